// rollout-bench in its short smoke mode: it must measure what really happened. Run against
// rollout-bench-server directly and through a real rollout-proxy with a 90/10 split.
#include <nlohmann/json.hpp>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

constexpr char kBenchBin[] = ROLLOUT_BENCH_BIN;
constexpr char kBenchServerBin[] = ROLLOUT_BENCH_SERVER_BIN;

class BenchServer {
 public:
  explicit BenchServer(const std::string& name)
      : process_({kBenchServerBin, "--port", "0", "--name", name}) {
    port_ = process_.WaitForLine(R"(listening on [0-9.]+:(\d+))", absl::Seconds(10));
  }
  std::string address() const { return "127.0.0.1:" + port_; }

 private:
  ChildProcess process_;
  std::string port_;
};

nlohmann::json Bench(std::vector<std::string> args) {
  args.insert(args.begin(), {kBenchBin, "--json", "--warmup", "200ms"});
  std::string out;
  EXPECT_EQ(RunCommand(args, &out, absl::Seconds(30)), 0) << out;
  return nlohmann::json::parse(out.substr(out.find('{')), nullptr, false);
}

TEST(RolloutBenchTest, ClosedLoopUnaryCountsEveryCallAndItsBackend) {
  BenchServer v1("v1");
  const nlohmann::json r =
      Bench({"--target", v1.address(), "-c", "2", "-m", "4", "--duration", "1s"});
  const uint64_t calls = r["calls"];
  EXPECT_GT(calls, 500u);
  EXPECT_EQ(r["codes"]["OK"].get<uint64_t>(), calls);
  EXPECT_EQ(r["backends"]["v1"].get<uint64_t>(), calls);
  EXPECT_NEAR(r["rps"].get<double>(), calls / 1.0, 1.0);
  const auto& l = r["latency_seconds"];
  EXPECT_GT(l["p50"].get<double>(), 0);
  EXPECT_LE(l["p50"].get<double>(), l["p99"].get<double>());
  EXPECT_LE(l["p99"].get<double>(), l["max"].get<double>());
}

TEST(RolloutBenchTest, OpenLoopSendsAtTheRateAsked) {
  BenchServer v1("v1");
  const nlohmann::json r =
      Bench({"--target", v1.address(), "--rate", "500", "-c", "2", "--duration", "2s"});
  EXPECT_NEAR(r["calls"].get<double>(), 1000, 50);
  EXPECT_EQ(r["codes"]["OK"], r["calls"]);
}

TEST(RolloutBenchTest, StreamsTimeEachMessage) {
  BenchServer v1("v1");
  const nlohmann::json r =
      Bench({"--target", v1.address(), "--stream", "-c", "1", "-m", "2", "--duration", "1s"});
  EXPECT_GT(r["calls"].get<uint64_t>(), 500u);
  EXPECT_EQ(r["codes"]["OK"], r["calls"]);
}

TEST(RolloutBenchTest, ThroughTheProxyTheSplitAndTheFailuresShow) {
  BenchServer v1("v1"), v2("v2");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools:
  - { name: v1, endpoints: ["@V1@"] }
  - { name: v2, endpoints: ["@V2@"] }
  - { name: gone, endpoints: ["127.0.0.1:1"] }
routes:
  - name: dead
    match: { method: /rollout.testing.Echo/ServerStream }
    split: [ { pool: gone, weight: 1 } ]
  - name: all
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
)",
                                         {{"@V1@", v1.address()}, {"@V2@", v2.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  nlohmann::json r = Bench({"--target", proxy.address(), "-c", "2", "-m", "4", "--duration", "1s"});
  const double calls = r["calls"];
  EXPECT_GT(calls, 200);
  EXPECT_NEAR(r["backends"]["v2"].get<double>() / calls, 0.10, 0.05);
  // Every call fails on a pool that cannot be reached, and the report says how.
  std::string out;
  EXPECT_EQ(RunCommand({kBenchBin, "--target", proxy.address(), "--method",
                        "/rollout.testing.Echo/ServerStream", "--duration", "300ms", "--warmup",
                        "0s", "--json"},
                       &out),
            1)
      << out;
  r = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_GT(r["codes"]["UNAVAILABLE"].get<uint64_t>(), 0u);
  EXPECT_FALSE(r["codes"].contains("OK"));
  EXPECT_EQ(RunCommand({kBenchBin, "--target", proxy.address(), "--duration", "soon"}, &out), 2);
  EXPECT_THAT(out, ::testing::HasSubstr("--duration: \"soon\" is not a duration"));
}

// The mixed open loop: a tenth of the scheduled calls are streams of 10 round trips, and
// --model sends real ModelInferRequests (the proxy routes them by model name to v2).
TEST(RolloutBenchTest, AMixedOpenLoopSendsItsShareOfStreamsOfModelRequests) {
  BenchServer v1("v1"), v2("v2");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools:
  - { name: v1, endpoints: ["@V1@"] }
  - { name: v2, endpoints: ["@V2@"] }
routes:
  - name: resnet
    match: { model: resnet }
    split: [ { pool: v2, weight: 1 } ]
  - name: rest
    split: [ { pool: v1, weight: 1 } ]
)",
                                         {{"@V1@", v1.address()}, {"@V2@", v2.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  const nlohmann::json r =
      Bench({"--target", proxy.address(), "--rate", "400", "--stream-share", "0.1",
             "--stream-messages", "10", "--model", "resnet", "--stream-method",
             "/inference.GRPCInferenceService/ModelStreamInfer", "--duration", "2s"});
  const uint64_t calls = r["calls"];
  EXPECT_NEAR(static_cast<double>(calls), 720, 20);       // 800 scheduled, 9 in 10 unary
  EXPECT_EQ(r["backends"]["v2"].get<uint64_t>(), calls);  // every one named model resnet
  EXPECT_FALSE(r["backends"].contains("v1"));
  EXPECT_NEAR(r["streams"]["ended"].get<double>(), 80, 8);
  EXPECT_NEAR(r["streams"]["messages"].get<double>(), 800, 80);
  EXPECT_EQ(r["codes"]["OK"].get<uint64_t>(), calls + r["streams"]["messages"].get<uint64_t>());
  EXPECT_GT(r["streams"]["latency_seconds"]["p50"].get<double>(), 0);
  std::string out;
  EXPECT_EQ(RunCommand({kBenchBin, "--target", proxy.address(), "--stream-share", "0.1"}, &out), 2);
  EXPECT_THAT(out, ::testing::HasSubstr("--stream-share needs --rate"));
}

}  // namespace
}  // namespace rollout::testing
