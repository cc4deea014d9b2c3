// The weighted split and per-pool load spreading, measured through a real proxy process.
#include <cmath>
#include <thread>

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

TEST(SplitTest, WeightedSplitStaysWithinBinomialToleranceAndHeaderMatchesBackend) {
  EchoBackend stable("stable"), canary("canary");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
pools:
  - { name: stable, endpoints: ["S"] }
  - { name: canary, endpoints: ["C"] }
routes:
  - name: echo
    split: [ { pool: stable, weight: 90 }, { pool: canary, weight: 10 } ]
)",
                                         {{"S", stable.address()}, {"C", canary.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();

  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 1000;
  std::atomic<int> to_canary{0}, mismatched{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto stub = Echo::NewStub(proxy.NewChannel());
      for (int i = 0; i < kCallsPerThread; ++i) {
        grpc::ClientContext ctx;
        EchoResponse response;
        if (!stub->Unary(&ctx, EchoRequest(), &response).ok()) {
          ++failed;
          continue;
        }
        auto header = ctx.GetServerInitialMetadata().find("x-rollout-pool");
        const std::string pool = header == ctx.GetServerInitialMetadata().end()
                                     ? ""
                                     : std::string(header->second.data(), header->second.size());
        if (pool != response.backend()) ++mismatched;
        if (response.backend() == "canary") ++to_canary;
      }
    });
  }
  for (auto& t : threads) t.join();

  constexpr double n = kThreads * kCallsPerThread;
  const double expected = n * 0.10;
  const double sigma = std::sqrt(n * 0.10 * 0.90);  // about 19 calls
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(mismatched.load(), 0) << "x-rollout-pool must name the pool that served the call";
  EXPECT_NEAR(to_canary.load(), expected, 5 * sigma);
  EXPECT_EQ(stable.total_calls() + canary.total_calls(), static_cast<int>(n));
}

TEST(SplitTest, CallsSpreadOverAPoolsEndpoints) {
  EchoBackend e1("e1"), e2("e2"), e3("e3");
  ProxyProcess proxy(
      absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools:
  - { name: trio, endpoints: ["E1", "E2", "E3"] }
routes:
  - name: all
    split: [ { pool: trio, weight: 1 } ]
)",
                          {{"E1", e1.address()}, {"E2", e2.address()}, {"E3", e3.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  for (int i = 0; i < 300; ++i) {
    grpc::ClientContext ctx;
    EchoResponse response;
    ASSERT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
    EXPECT_EQ(std::string(ctx.GetServerInitialMetadata().find("x-rollout-pool")->second.data(), 4),
              "trio");
  }
  // Sequential calls leave every endpoint idle, so the two random choices decide: each
  // endpoint gets about a third.
  for (EchoBackend* e : {&e1, &e2, &e3}) EXPECT_NEAR(e->total_calls(), 100, 35) << e->name();
}

TEST(SplitTest, EndpointThatIsDownIsSkippedWhileAnotherIsUp) {
  EchoBackend up("up");
  int dead_port = 0;
  {
    EchoBackend soon_gone("gone");
    dead_port = soon_gone.port();
  }
  ProxyProcess proxy(
      absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools:
  - { name: pair, endpoints: ["UP", "127.0.0.1:DEAD"] }
routes:
  - name: all
    split: [ { pool: pair, weight: 1 } ]
)",
                          {{"UP", up.address()}, {"DEAD", std::to_string(dead_port)}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  // Let the proxy's connection attempt to the dead endpoint fail first.
  absl::SleepFor(absl::Milliseconds(300));
  int ok = 0;
  for (int i = 0; i < 50; ++i) {
    grpc::ClientContext ctx;
    EchoResponse response;
    if (stub->Unary(&ctx, EchoRequest(), &response).ok()) ++ok;
  }
  EXPECT_EQ(ok, 50) << "calls went to the endpoint that is down";
}

}  // namespace
}  // namespace rollout::testing
