// busy_poll: a worker that spins on its sockets after each turn still serves every call,
// and once the traffic stops it goes back to sleeping in epoll_wait: an idle proxy with
// busy_poll uses next to no CPU.
#include <cstdio>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

TEST(BusyPollTest, ASpinningWorkerServesCallsAndSleepsWhenIdle) {
  EchoBackend backend("a");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
busy_poll: 5ms
pools: [ { name: a, endpoints: ["@A@"] } ]
routes: [ { name: all, split: [ { pool: a, weight: 1 } ] } ]
)",
                                         {{"@A@", backend.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  const int64_t before = proxy.process().CpuTicks();
  const absl::Time start = absl::Now();
  for (int i = 0; i < 300; ++i) {
    grpc::ClientContext ctx;
    EchoResponse response;
    ASSERT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok()) << i;
    EXPECT_EQ(response.backend(), "a");
  }
  const double busy_s = absl::ToDoubleSeconds(absl::Now() - start);
  const int64_t busy_ticks = proxy.process().CpuTicks() - before;
  // Idle: after the last turn's 5 ms of spinning the worker blocks, and its 100 ms ticks
  // (turns without events) do not spin: next to nothing, against a spin loop's 100%.
  const int64_t idle_from = proxy.process().CpuTicks();
  absl::SleepFor(absl::Seconds(2));
  const double idle_share = (proxy.process().CpuTicks() - idle_from) / 100.0 / 2.0;
  std::printf("busy: %lld ticks over %.2f s of calls; idle: %.1f%% of a core\n",
              static_cast<long long>(busy_ticks), busy_s, idle_share * 100);
  EXPECT_LT(idle_share, 0.05);
}

}  // namespace
}  // namespace rollout::testing
