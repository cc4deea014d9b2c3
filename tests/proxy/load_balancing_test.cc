// Choosing an endpoint within a pool: active health checks, outlier ejection, failing fast
// when nothing is usable, and least request steering away from a slow endpoint.
#include <regex>
#include <thread>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::map<std::string, int> Spread(Echo::Stub& stub, int calls, int* failed = nullptr) {
  std::map<std::string, int> by_backend;
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext ctx;
    EchoResponse response;
    if (stub.Unary(&ctx, EchoRequest(), &response).ok()) {
      ++by_backend[response.backend()];
    } else if (failed != nullptr) {
      ++*failed;
    }
  }
  return by_backend;
}

std::string PairConfig(const EchoBackend& a, const EchoBackend& b, const std::string& policy) {
  return absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools:
  - name: pair
    endpoints: ["@A@", "@B@"]
@POLICY@
  - { name: other, endpoints: ["@A@"] }
routes:
  - name: echo
    split: [ { pool: pair, weight: 1 } ]
)",
                             {{"@A@", a.address()}, {"@B@", b.address()}, {"@POLICY@", policy}});
}

TEST(LoadBalancingTest, HealthChecksTakeAnEndpointOutAndBringItBack) {
  EchoBackend a("a"), b("b");
  ProxyProcess proxy(PairConfig(
      a, b,
      R"(    health_check: { interval: 100ms, timeout: 200ms, unhealthy_threshold: 2, healthy_threshold: 2 })"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  EXPECT_GT(Spread(*stub, 100)["b"], 20);

  b.SetServing(false);
  absl::SleepFor(absl::Milliseconds(600));  // 2 failed checks at 100 ms, with margin
  auto spread = Spread(*stub, 100);
  EXPECT_EQ(spread["a"], 100) << "calls still reached the unhealthy endpoint";

  b.SetServing(true);
  absl::SleepFor(absl::Milliseconds(600));
  EXPECT_GT(Spread(*stub, 100)["b"], 20) << "the endpoint did not come back";
}

TEST(LoadBalancingTest, ACallThatNeverReachedAnEndpointIsRetriedOnAnother) {
  // `gone` stops: the proxy's connection to it closes, and the next call picked for it fails
  // to connect, before any request reached a backend, so it is started again on `live`.
  // Outlier ejection and health checks are off, so nothing else steers calls away.
  EchoBackend live("live");
  auto gone = std::make_unique<EchoBackend>("gone");
  ProxyProcess proxy(
      absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
metrics: { listen: 127.0.0.1:0 }
pools:
  - name: pair
    endpoints: ["@GONE@", "@LIVE@"]
    outlier_detection: { consecutive_failures: 0 }
routes:
  - name: echo
    split: [ { pool: pair, weight: 1 } ]
)",
                          {{"@GONE@", gone->address()}, {"@LIVE@", live.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  int failed = 0;
  EXPECT_GT(Spread(*stub, 100, &failed)["gone"], 20);
  gone.reset();
  absl::SleepFor(absl::Milliseconds(100));
  const int before = live.total_calls();
  std::map<std::string, int> spread = Spread(*stub, 100, &failed);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(spread["live"], 100);
  EXPECT_EQ(live.total_calls() - before, 100) << "a call reached the backend twice";
  const std::string metrics = HttpGet(proxy.metrics_port(), "/metrics").value_or("");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      metrics, m,
      std::regex(
          R"re(rollout_proxy_upstream_retries_total\{route="echo",pool="pair"\} ([0-9]+))re")))
      << metrics;
  EXPECT_GT(std::stoi(m[1]), 0) << "no call was picked for the stopped endpoint";
}

TEST(LoadBalancingTest, EndpointAnsweringUnavailableIsEjected) {
  EchoBackend a("a"), b("b");
  b.FailAll(grpc::StatusCode::UNAVAILABLE);
  ProxyProcess proxy(PairConfig(
      a, b, R"(    outlier_detection: { consecutive_failures: 3, base_ejection: 30s })"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  int failed = 0;
  Spread(*stub, 60, &failed);
  EXPECT_EQ(failed, 3) << "exactly the 3 failures that trigger the ejection";
  failed = 0;
  EXPECT_EQ(Spread(*stub, 100, &failed)["a"], 100);
  EXPECT_EQ(failed, 0);
}

TEST(LoadBalancingTest, PoolWithNoUsableEndpointFailsFastAndNeverSpills) {
  EchoBackend a("a"), b("b");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
pools:
  - name: canary
    endpoints: ["@B@"]
    health_check: { interval: 100ms, unhealthy_threshold: 1 }
  - { name: stable, endpoints: ["@A@"] }
routes:
  - name: echo
    split: [ { pool: stable, weight: 50 }, { pool: canary, weight: 50 } ]
)",
                                         {{"@A@", a.address()}, {"@B@", b.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  b.SetServing(false);
  absl::SleepFor(absl::Milliseconds(500));
  auto stub = Echo::NewStub(proxy.NewChannel());
  int unavailable = 0, to_stable = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 200; ++i) {
    grpc::ClientContext ctx;
    EchoResponse response;
    grpc::Status s = stub->Unary(&ctx, EchoRequest(), &response);
    if (s.ok()) {
      to_stable += response.backend() == "a";
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
      EXPECT_THAT(s.error_message(), AllOf(HasSubstr("pool \"canary\" has no usable endpoint"),
                                           HasSubstr("1 failing health checks")));
      ++unavailable;
    }
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "failing fast, not waiting on timeouts";
  EXPECT_EQ(to_stable + unavailable, 200);
  EXPECT_NEAR(unavailable, 100, 40) << "the canary's share fails; it is not moved to stable";
}

TEST(LoadBalancingTest, LeastRequestSendsMostCallsToTheFasterEndpoint) {
  EchoBackend fast("fast"), slow("slow");
  slow.SetDelayMs(50);
  ProxyProcess proxy(PairConfig(fast, slow, ""));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  std::atomic<int> to_fast{0}, total{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&] {
      auto stub = Echo::NewStub(proxy.NewChannel());
      for (int i = 0; i < 40; ++i) {
        grpc::ClientContext ctx;
        EchoResponse response;
        if (stub->Unary(&ctx, EchoRequest(), &response).ok()) {
          ++total;
          to_fast += response.backend() == "fast";
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(total.load(), 320);
  EXPECT_GT(to_fast.load(), 320 * 3 / 4) << to_fast.load() << " of 320 went to the fast endpoint";
}

}  // namespace
}  // namespace rollout::testing
