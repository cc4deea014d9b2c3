// The KServe v2 service of demo-model-server, over a real gRPC server on 127.0.0.1:0.
#include "cmd/demo/inference_service.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <cstring>
#include <numeric>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/generic_call.h"

namespace rollout::demo {
namespace {

using ::testing::HasSubstr;

class ServedModel {
 public:
  explicit ServedModel(ServiceOptions options) : service_(std::move(options)) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = inference::GRPCInferenceService::NewStub(channel_);
  }
  ~ServedModel() { server_->Shutdown(); }
  inference::GRPCInferenceService::Stub& stub() { return *stub_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

 private:
  InferenceService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

inference::ModelInferRequest RawRequest(const std::vector<float>& values, int64_t rows) {
  inference::ModelInferRequest request;
  request.set_model_name("classifier");
  request.set_id("req-1");
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  input->add_shape(rows);
  input->add_shape(4);
  request.add_raw_input_contents(
      std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return request;
}

std::vector<float> Probabilities(const inference::ModelInferResponse& response) {
  for (int i = 0; i < response.outputs_size(); ++i) {
    if (response.outputs(i).name() == "probabilities") {
      const std::string& raw = response.raw_output_contents(i);
      std::vector<float> out(raw.size() / sizeof(float));
      std::memcpy(out.data(), raw.data(), raw.size());
      return out;
    }
  }
  return {};
}

grpc::Status Infer(ServedModel& m, const inference::ModelInferRequest& request,
                   inference::ModelInferResponse* response) {
  grpc::ClientContext ctx;
  return m.stub().ModelInfer(&ctx, request, response);
}

const std::vector<float> kTwoRows = {5.1f, 3.5f, 1.4f, 0.2f, 6.7f, 3.0f, 5.2f, 2.3f};

TEST(InferenceServiceTest, ComputesProbabilitiesForEachRow) {
  ServedModel m({});
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(m, RawRequest(kTwoRows, 2), &response).ok());
  EXPECT_EQ(response.model_name(), "classifier");
  EXPECT_EQ(response.model_version(), "v1");
  EXPECT_EQ(response.id(), "req-1");
  ASSERT_EQ(response.outputs_size(), 2);
  EXPECT_EQ(response.outputs(0).shape(0), 2);
  EXPECT_EQ(response.outputs(0).shape(1), 3);
  EXPECT_EQ(response.outputs(1).name(), "class");
  EXPECT_EQ(response.outputs(1).datatype(), "INT64");
  const std::vector<float> p = Probabilities(response);
  ASSERT_EQ(p.size(), 6u);
  for (int row = 0; row < 2; ++row) {
    EXPECT_NEAR(p[row * 3] + p[row * 3 + 1] + p[row * 3 + 2], 1.0f, 1e-5f);
  }
  // The class output is the arg-max of each row.
  int64_t labels[2];
  std::memcpy(labels, response.raw_output_contents(1).data(), sizeof(labels));
  for (int row = 0; row < 2; ++row) {
    const float* r = &p[row * 3];
    EXPECT_EQ(labels[row], std::max_element(r, r + 3) - r);
  }
}

TEST(InferenceServiceTest, TypedContentsGiveTheSameAnswerAsRawBytes) {
  ServedModel m({});
  inference::ModelInferRequest typed = RawRequest(kTwoRows, 2);
  typed.clear_raw_input_contents();
  for (float v : kTwoRows) typed.mutable_inputs(0)->mutable_contents()->add_fp32_contents(v);
  inference::ModelInferResponse raw_response, typed_response;
  ASSERT_TRUE(Infer(m, RawRequest(kTwoRows, 2), &raw_response).ok());
  ASSERT_TRUE(Infer(m, typed, &typed_response).ok());
  EXPECT_EQ(Probabilities(raw_response), Probabilities(typed_response));
}

TEST(InferenceServiceTest, VersionsAreDifferentModels) {
  ServedModel v1({.model = "classifier", .version = "v1"});
  ServedModel v2({.model = "classifier", .version = "v2"});
  ServedModel v2_again({.model = "classifier", .version = "v2"});
  inference::ModelInferResponse r1, r2, r2_again;
  ASSERT_TRUE(Infer(v1, RawRequest(kTwoRows, 2), &r1).ok());
  ASSERT_TRUE(Infer(v2, RawRequest(kTwoRows, 2), &r2).ok());
  ASSERT_TRUE(Infer(v2_again, RawRequest(kTwoRows, 2), &r2_again).ok());
  EXPECT_NE(Probabilities(r1), Probabilities(r2));
  EXPECT_EQ(Probabilities(r2), Probabilities(r2_again)) << "same version, same weights";
  EXPECT_EQ(r2.model_version(), "v2");
}

TEST(InferenceServiceTest, RequestedOutputsOnly) {
  ServedModel m({});
  inference::ModelInferRequest request = RawRequest(kTwoRows, 2);
  request.add_outputs()->set_name("class");
  inference::ModelInferResponse response;
  ASSERT_TRUE(Infer(m, request, &response).ok());
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "class");
  request.add_outputs()->set_name("logits");
  grpc::Status status = Infer(m, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("unknown output \"logits\""));
}

TEST(InferenceServiceTest, BadRequestsGetClearErrors) {
  ServedModel m({});
  inference::ModelInferResponse response;
  struct Case {
    std::function<void(inference::ModelInferRequest*)> mutate;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto* r) { r->set_model_name("resnet"); }, grpc::StatusCode::NOT_FOUND,
       "unknown model \"resnet\""},
      {[](auto* r) { r->set_model_version("v7"); }, grpc::StatusCode::NOT_FOUND,
       "no version \"v7\""},
      {[](auto* r) { r->mutable_inputs(0)->set_datatype("INT32"); },
       grpc::StatusCode::INVALID_ARGUMENT, "datatype must be FP32"},
      {[](auto* r) { r->mutable_inputs(0)->set_shape(1, 5); }, grpc::StatusCode::INVALID_ARGUMENT,
       "shape must be [N, 4]"},
      {[](auto* r) { r->mutable_inputs(0)->set_shape(0, 3); }, grpc::StatusCode::INVALID_ARGUMENT,
       "raw_input_contents[0] has 32 bytes"},
      {[](auto* r) { r->mutable_inputs(0)->set_name("x"); }, grpc::StatusCode::INVALID_ARGUMENT,
       "input tensor named \"input\""},
      {[](auto* r) { r->clear_raw_input_contents(); }, grpc::StatusCode::INVALID_ARGUMENT,
       "input data missing"},
      {[](auto* r) { r->mutable_inputs(0)->mutable_contents()->add_fp32_contents(1); },
       grpc::StatusCode::INVALID_ARGUMENT, "both as raw_input_contents and as contents"},
  };
  for (const Case& c : cases) {
    inference::ModelInferRequest request = RawRequest(kTwoRows, 2);
    c.mutate(&request);
    grpc::Status status = Infer(m, request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.message;
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

TEST(InferenceServiceTest, ReadinessMetadataAndHealth) {
  ServedModel m({.model = "classifier", .version = "v3"});
  grpc::ClientContext c1, c2, c3, c4, c5;
  inference::ServerLiveResponse live;
  ASSERT_TRUE(m.stub().ServerLive(&c1, {}, &live).ok());
  EXPECT_TRUE(live.live());
  inference::ModelReadyRequest ready_request;
  ready_request.set_name("classifier");
  inference::ModelReadyResponse ready;
  ASSERT_TRUE(m.stub().ModelReady(&c2, ready_request, &ready).ok());
  EXPECT_TRUE(ready.ready());
  ready_request.set_name("other");
  ASSERT_TRUE(m.stub().ModelReady(&c3, ready_request, &ready).ok());
  EXPECT_FALSE(ready.ready());
  inference::ModelMetadataRequest md_request;
  md_request.set_name("classifier");
  inference::ModelMetadataResponse md;
  ASSERT_TRUE(m.stub().ModelMetadata(&c4, md_request, &md).ok());
  EXPECT_EQ(md.versions(0), "v3");
  EXPECT_EQ(md.inputs(0).shape(1), 4);
  EXPECT_EQ(md.outputs(0).name(), "probabilities");

  // grpc.health.v1.Health/Check with an empty service name, by its wire bytes (an empty
  // request; the response's field 1 is the status, SERVING = 1).
  std::string health;
  ASSERT_TRUE(
      rollout::testing::CallGeneric(m.channel(), "/grpc.health.v1.Health/Check", &c5, "", &health)
          .ok());
  EXPECT_EQ(health, std::string("\x08\x01", 2));
}

TEST(InferenceServiceTest, StreamReportsBadRequestsInBandAndGoesOn) {
  ServedModel m({});
  grpc::ClientContext ctx;
  auto stream = m.stub().ModelStreamInfer(&ctx);
  inference::ModelInferRequest good = RawRequest(kTwoRows, 2);
  inference::ModelInferRequest bad = good;
  bad.set_model_name("nope");
  for (const auto* request : {&good, &bad, &good}) ASSERT_TRUE(stream->Write(*request));
  stream->WritesDone();
  inference::ModelStreamInferResponse reply;
  std::vector<std::string> errors;
  int answers = 0;
  while (stream->Read(&reply)) {
    errors.push_back(reply.error_message());
    if (reply.error_message().empty()) {
      ++answers;
      EXPECT_EQ(Probabilities(reply.infer_response()).size(), 6u);
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(answers, 2);
  EXPECT_THAT(errors[1], HasSubstr("unknown model \"nope\""));
}

TEST(InferenceServiceTest, InjectedFaultsAndLatency) {
  ServedModel failing({.model = "classifier", .version = "v2", .error_rate = 1.0});
  inference::ModelInferResponse response;
  grpc::Status status = Infer(failing, RawRequest(kTwoRows, 2), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(status.error_message(), HasSubstr("injected fault"));

  ServedModel slow({.model = "classifier", .version = "v2", .extra_latency_ms = 120});
  const absl::Time start = absl::Now();
  ASSERT_TRUE(Infer(slow, RawRequest(kTwoRows, 2), &response).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(120));
}

}  // namespace
}  // namespace rollout::demo
