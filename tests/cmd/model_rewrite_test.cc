// Two versions of one model on one server, canaried as two pools: each pool pins its
// model_version, and the proxy rewrites it into every request on the wire. Real processes:
// a demo-model-server hosting versions 1 and 2, a rollout-proxy, rolloutctl.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/support/http_get.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"
#include "tests/support/raw_h2_client.h"
#include "tests/support/zlib_compress.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kAdminSecret[] = "release-bot-secret-0123456789";

class ModelRewriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    dir_.WriteFile("admin.tokens", absl::StrCat("release-bot admin ", kAdminSecret, "\n"));
    token_ = dir_.WriteFile("bot.token", kAdminSecret);
    proxy_ = std::make_unique<ProxyProcess>(
        absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
metrics: { listen: 127.0.0.1:0 }
admin: { listen: 127.0.0.1:0, token_file: @DIR@/admin.tokens }
state_dir: @DIR@/state
pools:
  - { name: v1, endpoints: ["@S@"], model_name: classifier, model_version: "1" }
  - { name: v2, endpoints: ["@S@"], model_name: classifier, model_version: "2" }
routes:
  # Routes by model: every call waits for its first message before its pool is known, so
  # the rewrite starts on bytes already queued.
  - name: bert
    match: { model: bert }
    split: [ { pool: v1, weight: 1 } ]
  - name: shadowed
    match:
      method_prefix: /inference.GRPCInferenceService/
      metadata: [ { key: x-shadow, equals: "1" } ]
    split: [ { pool: v1, weight: 1 } ]
    mirror: { pool: v2, percent: 100 }
  - name: infer
    match: { method_prefix: /inference.GRPCInferenceService/ }
    override_header: x-rollout-pool
    split: [ { pool: v1, weight: 50 }, { pool: v2, weight: 50 } ]
)",
                            {{"@DIR@", dir_.path()}, {"@S@", server_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
    stub_ = inference::GRPCInferenceService::NewStub(proxy_->NewChannel());
  }

  // One ModelInfer through the proxy: the pool that served it and the version that answered.
  std::pair<std::string, std::string> Infer(const inference::ModelInferRequest& request,
                                            grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    inference::ModelInferResponse response;
    grpc::Status s = stub_->ModelInfer(&ctx, request, &response);
    if (status != nullptr) *status = s;
    auto it = ctx.GetServerInitialMetadata().find("x-rollout-pool");
    std::string pool = it == ctx.GetServerInitialMetadata().end()
                           ? "-"
                           : std::string(it->second.data(), it->second.size());
    return {pool, response.model_version()};
  }

  int Ctl(std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {kRolloutctlBin, "--admin", proxy_->admin_address(),
                                     "--token-file", token_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out);
  }

  TempDir dir_;
  DemoServerProcess server_{{"--model-versions", "1,2"}};
  std::string token_;
  std::unique_ptr<ProxyProcess> proxy_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

TEST_F(ModelRewriteTest, EachPoolsCallsReachTheVersionItPinsWhateverTheClientAsked) {
  std::map<std::string, int> served;
  for (const char* asked : {"", "1", "2", "7"}) {
    inference::ModelInferRequest request = InferRequest();
    request.set_model_version(asked);
    for (int i = 0; i < 40; ++i) {
      grpc::Status s;
      const auto [pool, version] = Infer(request, &s);
      ASSERT_TRUE(s.ok()) << s.error_message();
      // v1's calls are answered by version 1, v2's by version 2.
      ASSERT_EQ(pool, "v" + version) << "asked for \"" << asked << "\"";
      ++served[pool];
    }
  }
  EXPECT_GT(served["v1"], 20);
  EXPECT_GT(served["v2"], 20);

  // Straight to the server, a version it does not host is NOT_FOUND: only the rewrite made
  // "7" work above.
  auto direct = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel(server_.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  inference::ModelInferRequest seven = InferRequest();
  seven.set_model_version("7");
  inference::ModelInferResponse response;
  const grpc::Status s = direct->ModelInfer(&ctx, seven, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("this server hosts 1, 2"));
}

TEST_F(ModelRewriteTest, EveryMessageOfAStreamIsRewritten) {
  for (const char* pool : {"v1", "v2"}) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-rollout-pool", pool);  // the route lets a caller pick its pool
    auto stream = stub_->ModelStreamInfer(&ctx);
    for (int i = 0; i < 5; ++i) {
      inference::ModelInferRequest request = InferRequest();
      request.set_model_version(i % 2 == 0 ? "" : "7");
      ASSERT_TRUE(stream->Write(request));
      inference::ModelStreamInferResponse reply;
      ASSERT_TRUE(stream->Read(&reply));
      EXPECT_EQ(reply.error_message(), "");
      EXPECT_EQ("v" + reply.infer_response().model_version(), pool) << "message " << i;
    }
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }
}

TEST_F(ModelRewriteTest, AMirrorPoolRewritesItsCopyItsOwnWay) {
  // The client asks for version 1: the primary (v1) answers with it, and the shadow copy
  // goes to v2's version 2, whose weights differ: every comparison is a mismatch. (Were
  // the copy left as sent, version 1 would answer both, and they would match.)
  for (int i = 0; i < 10; ++i) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-shadow", "1");
    inference::ModelInferRequest request = InferRequest();
    request.set_model_version("1");
    inference::ModelInferResponse response;
    ASSERT_TRUE(stub_->ModelInfer(&ctx, request, &response).ok());
    EXPECT_EQ(response.model_version(), "1");
  }
  const std::string mismatch =
      R"(rollout_proxy_mirror_results_total{route="shadowed",pool="v2",result="mismatch"})";
  EXPECT_TRUE(WaitForMetric(proxy_->metrics_port(), mismatch, 10)) << mismatch;
  const std::string text = HttpGet(proxy_->metrics_port(), "/metrics").value_or("");
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(rollout_proxy_mirror_results_total{route="shadowed",pool="v2",result="match"} 0)"));
}

TEST_F(ModelRewriteTest, ACompressedRequestToAPinningPoolIsRefusedNamingThePool) {
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  c.Send(RawH2Client::Headers(1,
                              RawH2Client::GrpcRequest("/inference.GRPCInferenceService/ModelInfer",
                                                       {{"grpc-encoding", "gzip"}}),
                              false));
  std::string message =
      RawH2Client::GrpcMessage(Compress(InferRequest().SerializeAsString(), /*gzip=*/true));
  message[0] = 1;  // compressed
  c.Send(RawH2Client::Data(1, message, true));
  RawH2Client::Stream s = c.Wait(1, absl::Seconds(5));
  EXPECT_EQ(s.fields["grpc-status"], "12");
  EXPECT_THAT(s.fields["grpc-message"], HasSubstr("cannot take a compressed request message"));
}

TEST_F(ModelRewriteTest, VersionsOnOneServerPassTheGateAndAreCanaried) {
  std::string out;
  ASSERT_EQ(Ctl({"set-weight", "infer", "v1=100", "--reason", "start from v1"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"version", "add", "clf-1", "--pool", "v1", "--model", "classifier",
                 "--model-version", "1"},
                &out),
            0)
      << out;
  ASSERT_EQ(Ctl({"version", "add", "clf-2", "--pool", "v2", "--model", "classifier",
                 "--model-version", "2"},
                &out),
            0)
      << out;
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "clf-1", "--candidate", "clf-2",
                 "--steps", "50", "--max-error-rate", "0.05", "--interval", "1h"},
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("gates: compatibility passed"));
  ASSERT_EQ(Ctl({"--json", "rollout", "get", "infer"}, &out), 0) << out;
  const nlohmann::json r = nlohmann::json::parse(out);
  const nlohmann::json data = nlohmann::json::parse(r["gates"][0]["data_json"].get<std::string>());
  EXPECT_EQ(data["stable"]["model_version"], "1");
  EXPECT_EQ(data["candidate"]["model_version"], "2");
  EXPECT_EQ(data["candidate"]["schema"]["versions"], nlohmann::json({"2"}));
  std::map<std::string, int> served;
  for (int i = 0; i < 60; ++i) ++served[Infer(InferRequest()).second];
  EXPECT_GT(served["2"], 10);
  EXPECT_GT(served["1"], 10);
}

}  // namespace
}  // namespace rollout::testing
