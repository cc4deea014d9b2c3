// The demo's moving parts as real processes: two demo-model-server versions behind a real
// rollout-proxy, driven by rollout-demo-client, as the README's demo command runs them.
#include <nlohmann/json.hpp>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

class DemoEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(v1_.ok() && v2_.ok());
    proxy_ = std::make_unique<ProxyProcess>(
        absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
pools:
  - { name: v1, endpoints: ["V1"] }
  - { name: v2, endpoints: ["V2"] }
routes:
  - name: infer
    match: { method_prefix: /inference.GRPCInferenceService/ }
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
)",
                            {{"V1", v1_.address()}, {"V2", v2_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
  }

  DemoServerProcess v1_{{"--version", "v1"}};
  DemoServerProcess v2_{{"--version", "v2"}};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(DemoEndToEndTest, KServeCallsAreAnsweredByTheVersionTheHeaderNames) {
  auto stub = inference::GRPCInferenceService::NewStub(proxy_->NewChannel());
  std::map<std::string, int> by_pool;
  for (int i = 0; i < 400; ++i) {
    grpc::ClientContext ctx;
    inference::ModelInferResponse response;
    grpc::Status status = stub->ModelInfer(&ctx, InferRequest(), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    auto it = ctx.GetServerInitialMetadata().find("x-rollout-pool");
    ASSERT_NE(it, ctx.GetServerInitialMetadata().end());
    const std::string pool(it->second.data(), it->second.size());
    EXPECT_EQ(pool, response.model_version());
    ++by_pool[pool];
  }
  // 10% of 400 is 40 (sigma 6); both versions answer.
  EXPECT_GT(by_pool["v2"], 10);
  EXPECT_GT(by_pool["v1"], 300);
}

TEST_F(DemoEndToEndTest, DemoClientReportsPerVersionTrafficAsJson) {
  std::string out;
  ASSERT_EQ(RunCommand({kDemoClientBin, "--target", proxy_->address(), "--rate", "400",
                        "--duration", "2s", "--json"},
                       &out, absl::Seconds(20)),
            0)
      << out;
  const nlohmann::json report = nlohmann::json::parse(out.substr(out.find('{')));
  const int calls = report["calls"];
  EXPECT_GT(calls, 500);
  const int v1 = report["pools"]["v1"]["calls"];
  const int v2 = report["pools"]["v2"]["calls"];
  EXPECT_EQ(v1 + v2, calls);
  EXPECT_NEAR(report["pools"]["v2"]["share"].get<double>(), 0.10, 0.05);
  EXPECT_EQ(report["pools"]["v2"]["model_versions"]["v2"].get<int>(), v2);
  EXPECT_GT(report["pools"]["v1"]["latency_seconds"]["p99"].get<double>(), 0.0);
}

TEST_F(DemoEndToEndTest, FaultyVersionShowsUpAsErrorsOnItsPoolOnly) {
  DemoServerProcess faulty({"--version", "v2", "--error-rate", "1.0"});
  ASSERT_TRUE(faulty.ok());
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
pools:
  - { name: v1, endpoints: ["V1"] }
  - { name: v2, endpoints: ["V2"] }
routes:
  - name: infer
    split: [ { pool: v1, weight: 50 }, { pool: v2, weight: 50 } ]
)",
                                         {{"V1", v1_.address()}, {"V2", faulty.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  std::string out;
  ASSERT_EQ(RunCommand({kDemoClientBin, "--target", proxy.address(), "--rate", "200", "--duration",
                        "1s", "--json"},
                       &out, absl::Seconds(20)),
            0)
      << out;
  const nlohmann::json report = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(report["pools"]["v1"]["errors"].size(), 0u);
  EXPECT_EQ(report["pools"]["v2"]["errors"]["INTERNAL"].get<int>(),
            report["pools"]["v2"]["calls"].get<int>());
}

TEST(DemoServerProcessTest, HelpShowsTheDefaults) {
  std::string out;
  EXPECT_EQ(RunCommand({kDemoServerBin, "--help"}, &out), 0);
  EXPECT_THAT(out,
              ::testing::AllOf(::testing::HasSubstr("--model"), ::testing::HasSubstr("classifier"),
                               ::testing::HasSubstr("--error-rate")));
  EXPECT_EQ(RunCommand({kDemoServerBin, "--error-rate", "2"}, &out), 2);
}

}  // namespace
}  // namespace rollout::testing
