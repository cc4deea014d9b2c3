// Routing rules through real proxy processes: sticky keys agree across processes, the
// override header, metadata and model-name matching (with real KServe model servers), a
// malformed first frame, and streams pinned to their pool across a weight change.
#include <signal.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/support/echo_backend.h"
#include "tests/support/generic_call.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Backend(Echo::Stub& stub, const std::map<std::string, std::string>& headers,
                    grpc::Status* status = nullptr) {
  grpc::ClientContext ctx;
  for (const auto& [k, v] : headers) ctx.AddMetadata(k, v);
  EchoResponse response;
  grpc::Status s = stub.Unary(&ctx, EchoRequest(), &response);
  if (status != nullptr) *status = s;
  return s.ok() ? response.backend() : "";
}

class RoutingRulesTest : public ::testing::Test {
 protected:
  std::string Config(const std::string& routes) const {
    return absl::StrReplaceAll(
        R"(
listen: 127.0.0.1:0
workers: 2
pools:
  - { name: a, endpoints: ["A"] }
  - { name: b, endpoints: ["B"] }
  - { name: preview, endpoints: ["P"] }
routes:
ROUTES)",
        {{"A", a_.address()}, {"B", b_.address()}, {"P", preview_.address()}, {"ROUTES", routes}});
  }
  EchoBackend a_{"a"}, b_{"b"}, preview_{"preview"};
};

TEST_F(RoutingRulesTest, StickyKeyLandsOnTheSamePoolThroughAnyProxyProcess) {
  const std::string config = Config(R"(
  - name: echo
    sticky_key: x-user-id
    split: [ { pool: a, weight: 50 }, { pool: b, weight: 50 } ]
)");
  ProxyProcess first(config), second(config);
  ASSERT_TRUE(first.ok() && second.ok()) << first.Log() << second.Log();
  auto one = Echo::NewStub(first.NewChannel());
  auto two = Echo::NewStub(second.NewChannel());
  int to_b = 0;
  for (int i = 0; i < 300; ++i) {
    const std::map<std::string, std::string> user = {{"x-user-id", absl::StrCat("user-", i)}};
    const std::string via_first = Backend(*one, user);
    EXPECT_EQ(Backend(*two, user), via_first) << "user-" << i;
    EXPECT_EQ(Backend(*one, user), via_first) << "user-" << i << " is not sticky";
    to_b += via_first == "b";
  }
  EXPECT_NEAR(to_b, 150, 45);
}

TEST_F(RoutingRulesTest, OverrideHeaderForcesAnAllowedPoolAndNamesTheRestWhenRefused) {
  ProxyProcess proxy(Config(R"(
  - name: echo
    override_header: x-rollout-pool
    override_pools: [ preview ]
    split: [ { pool: a, weight: 1 } ]
)"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  EXPECT_EQ(Backend(*stub, {}), "a");
  EXPECT_EQ(Backend(*stub, {{"x-rollout-pool", "preview"}}), "preview");
  for (const char* refused : {"b", "v9"}) {
    grpc::Status status;
    Backend(*stub, {{"x-rollout-pool", refused}}, &status);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(),
                AllOf(HasSubstr("x-rollout-pool"), HasSubstr(absl::StrCat("\"", refused, "\"")),
                      HasSubstr("allowed: preview")));
  }
}

TEST_F(RoutingRulesTest, MetadataAndExactMethodMatching) {
  ProxyProcess proxy(Config(R"(
  - name: beta
    match: { metadata: [ { key: x-tenant, regex: "beta-[a-z]+" } ] }
    split: [ { pool: b, weight: 1 } ]
  - name: prefixed
    match: { metadata: [ { key: x-env, prefix: stag } ] }
    split: [ { pool: preview, weight: 1 } ]
  - name: streams
    match: { method: /rollout.testing.Echo/ServerStream }
    split: [ { pool: preview, weight: 1 } ]
  - name: rest
    split: [ { pool: a, weight: 1 } ]
)"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  EXPECT_EQ(Backend(*stub, {{"x-tenant", "beta-acme"}}), "b");
  EXPECT_EQ(Backend(*stub, {{"x-tenant", "beta-ACME"}}), "a");  // the regex must match it all
  EXPECT_EQ(Backend(*stub, {{"x-tenant", "xbeta-acme"}}), "a");
  EXPECT_EQ(Backend(*stub, {{"x-env", "staging"}}), "preview");
  EXPECT_EQ(Backend(*stub, {}), "a");
  grpc::ClientContext ctx;
  EchoRequest request;
  request.set_response_count(1);
  EchoResponse response;
  auto reader = stub->ServerStream(&ctx, request);
  ASSERT_TRUE(reader->Read(&response));
  EXPECT_EQ(response.backend(), "preview");
  while (reader->Read(&response)) {
  }
  EXPECT_TRUE(reader->Finish().ok());
}

class ModelRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(resnet_.ok() && bert_.ok());
    proxy_ = std::make_unique<ProxyProcess>(
        absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
pools:
  - { name: resnet, endpoints: ["@RESNET@"] }
  - { name: bert, endpoints: ["@BERT@"] }
routes:
  - name: resnet
    match: { method_prefix: /inference.GRPCInferenceService/Model, model: resnet }
    split: [ { pool: resnet, weight: 1 } ]
  - name: bert
    match: { method_prefix: /inference.GRPCInferenceService/Model, model: bert }
    split: [ { pool: bert, weight: 1 } ]
  - name: health
    match: { method: /inference.GRPCInferenceService/ServerLive }
    split: [ { pool: bert, weight: 1 } ]
)",
                            {{"@RESNET@", resnet_.address()}, {"@BERT@", bert_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
    stub_ = inference::GRPCInferenceService::NewStub(proxy_->NewChannel());
  }

  static inference::ModelInferRequest Request(const std::string& model) {
    return InferRequest(model);
  }

  DemoServerProcess resnet_{{"--model", "resnet", "--version", "r1"}};
  DemoServerProcess bert_{{"--model", "bert", "--version", "b1"}};
  std::unique_ptr<ProxyProcess> proxy_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

TEST_F(ModelRoutingTest, UnaryCallsGoToTheirModelsPool) {
  for (const char* model : {"resnet", "bert", "resnet"}) {
    grpc::ClientContext ctx;
    inference::ModelInferResponse response;
    grpc::Status status = stub_->ModelInfer(&ctx, Request(model), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.model_name(), model);
    EXPECT_EQ(std::string(ctx.GetServerInitialMetadata().find("x-rollout-pool")->second.data(),
                          ctx.GetServerInitialMetadata().find("x-rollout-pool")->second.size()),
              model);
  }
  grpc::ClientContext ctx;
  inference::ModelInferResponse response;
  grpc::Status status = stub_->ModelInfer(&ctx, Request("gpt"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("model \"gpt\""));
  // A method that needs no model is routed without waiting for a message.
  grpc::ClientContext live_ctx;
  inference::ServerLiveResponse live;
  EXPECT_TRUE(stub_->ServerLive(&live_ctx, inference::ServerLiveRequest(), &live).ok());
}

TEST_F(ModelRoutingTest, StreamIsRoutedByItsFirstMessage) {
  grpc::ClientContext ctx;
  auto stream = stub_->ModelStreamInfer(&ctx);
  ASSERT_TRUE(stream->Write(Request("bert")));
  inference::ModelStreamInferResponse reply;
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_EQ(reply.infer_response().model_name(), "bert");
  // Later messages ride the same stream to the same pool, whatever they name.
  ASSERT_TRUE(stream->Write(Request("resnet")));
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_THAT(reply.error_message(), HasSubstr("unknown model \"resnet\""));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ModelRoutingTest, MalformedFirstFrameIsInvalidArgumentAndTheProxyLives) {
  for (const std::string& garbage : {std::string("\x0a\x7f", 2), std::string("\x0a\xff\xff", 3),
                                     std::string("\x09\x01\x02", 3)}) {
    grpc::ClientContext ctx;
    grpc::Status status = CallGeneric(proxy_->NewChannel(),
                                      "/inference.GRPCInferenceService/ModelInfer", &ctx, garbage);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("model_name"));
  }
  grpc::ClientContext ctx;
  inference::ModelInferResponse response;
  EXPECT_TRUE(stub_->ModelInfer(&ctx, Request("resnet"), &response).ok());
}

TEST(StreamPinningTest, LongBidiStreamKeepsItsPoolAcrossAWeightChange) {
  EchoBackend a("a"), b("b");
  TempDir dir;
  const std::string config = absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
pools:
  - { name: a, endpoints: ["@A@"] }
  - { name: b, endpoints: ["@B@"] }
routes:
  - name: echo
    split: [ { pool: a, weight: @WA@ }, { pool: b, weight: @WB@ } ]
)",
                                                 {{"@A@", a.address()}, {"@B@", b.address()}});
  ProxyProcess proxy(absl::StrReplaceAll(config, {{"@WA@", "1"}, {"@WB@", "0"}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  grpc::ClientContext ctx;
  auto stream = stub->Bidi(&ctx);
  EchoResponse response;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(stream->Write(EchoRequest()));
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(response.backend(), "a");
  }
  std::ofstream(proxy.config_path()) << absl::StrReplaceAll(config, {{"@WA@", "0"}, {"@WB@", "1"}});
  proxy.process().Signal(SIGHUP);
  ASSERT_FALSE(proxy.process().WaitForLine("SIGHUP: reloaded", absl::Seconds(5)).empty())
      << proxy.Log();
  EXPECT_EQ(Backend(*stub, {}), "b") << "new calls follow the new weights";
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(stream->Write(EchoRequest()));
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(response.backend(), "a") << "message " << i << " of the pinned stream moved";
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace rollout::testing
