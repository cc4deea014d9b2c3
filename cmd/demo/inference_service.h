// InferenceService: the KServe v2 / Open Inference Protocol service of demo-model-server.
//
// It hosts one TinyMlp under a model name and version. The model takes input "input"
// (FP32, shape [N, 4]) as raw_input_contents or as contents.fp32_contents, and returns
// "probabilities" (FP32, [N, 3]) and "class" (INT64, [N]) as raw_output_contents. Faults
// can be injected: a share of calls fails with INTERNAL, and every call can be slowed.
//
// Thread-safety: thread-safe; the sync gRPC server calls it from many threads.
#ifndef ROLLOUT_CMD_DEMO_INFERENCE_SERVICE_H_
#define ROLLOUT_CMD_DEMO_INFERENCE_SERVICE_H_

#include <string>

#include "cmd/demo/tiny_mlp.h"
#include "inference/grpc_predict_v2.grpc.pb.h"

namespace rollout::demo {

struct ServiceOptions {
  std::string model = "classifier";
  std::string version = "v1";
  double error_rate = 0;     // share of inference calls failed on purpose, 0..1
  int extra_latency_ms = 0;  // added to every inference call
};

class InferenceService final : public inference::GRPCInferenceService::Service {
 public:
  explicit InferenceService(ServiceOptions options);

  grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext*, const inference::ModelMetadataRequest* request,
                             inference::ModelMetadataResponse* response) override;
  grpc::Status ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override;
  grpc::Status ModelStreamInfer(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<inference::ModelStreamInferResponse, inference::ModelInferRequest>*
          stream) override;

  // Validates the request and computes the model; the faults are applied by the callers.
  grpc::Status Infer(const inference::ModelInferRequest& request,
                     inference::ModelInferResponse* response) const;

 private:
  grpc::Status CheckModel(const std::string& name, const std::string& version) const;
  // Sleeps the extra latency, then maybe fails on purpose.
  grpc::Status InjectFaults(grpc::ServerContext* context) const;

  const ServiceOptions options_;
  const TinyMlp model_;
};

}  // namespace rollout::demo

#endif  // ROLLOUT_CMD_DEMO_INFERENCE_SERVICE_H_
