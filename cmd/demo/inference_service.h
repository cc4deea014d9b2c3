// InferenceService: the KServe v2 / Open Inference Protocol service of demo-model-server.
//
// It hosts one model name, in one or more model versions, each a TinyMlp with its own
// weights. The model takes input "input" (FP32, shape [N, features], 4 features by
// default) as raw_input_contents or as contents.fp32_contents, and returns "probabilities"
// (FP32, [N, 3]) and "class" (INT64, [N]) as raw_output_contents, with the model_version
// that answered. A request naming a model_version the server does not host gets
// NOT_FOUND; one naming none gets the last version listed. Faults can be injected: a share
// of calls fails with INTERNAL, and every call can be slowed.
//
// Thread-safety: thread-safe; the sync gRPC server calls it from many threads.
#ifndef ROLLOUT_CMD_DEMO_INFERENCE_SERVICE_H_
#define ROLLOUT_CMD_DEMO_INFERENCE_SERVICE_H_

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cmd/demo/tiny_mlp.h"
#include "inference/grpc_predict_v2.grpc.pb.h"

namespace rollout::demo {

struct ServiceOptions {
  std::string model = "classifier";
  std::string version = "v1";
  // The model versions hosted (each with weights of its own); empty: just `version`.
  std::vector<std::string> model_versions;
  int features = TinyMlp::kInputs;  // the input tensor's second dimension
  double error_rate = 0;            // share of inference calls failed on purpose, 0..1
  int extra_latency_ms = 0;         // added to every inference call
  // ModelStreamInfer as a token stream: `generate` answers per request (0: one), the first
  // after first_token_ms, each later one token_ms after the one before.
  int generate = 0;
  int first_token_ms = 0;
  int token_ms = 0;
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

  // What ServerReady answers (true at start); demo-model-server flips it with its health.
  void SetReady(bool ready) { ready_ = ready; }

  // Validates the request and computes the model; the faults are applied by the callers.
  grpc::Status Infer(const inference::ModelInferRequest& request,
                     inference::ModelInferResponse* response) const;

 private:
  // The model version that serves `name` / `version`, or NOT_FOUND.
  absl::StatusOr<const std::pair<const std::string, TinyMlp>*> FindModel(
      const std::string& name, const std::string& version) const;
  // Sleeps the extra latency, then maybe fails on purpose.
  grpc::Status InjectFaults(grpc::ServerContext* context) const;

  const ServiceOptions options_;
  std::atomic<bool> ready_{true};
  std::map<std::string, TinyMlp> models_;  // by model version
  std::string default_version_;
};

}  // namespace rollout::demo

#endif  // ROLLOUT_CMD_DEMO_INFERENCE_SERVICE_H_
