#include "cmd/demo/inference_service.h"

#include <cstring>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rollout::demo {
namespace {

constexpr char kInput[] = "input";
constexpr char kProbabilities[] = "probabilities";
constexpr char kClass[] = "class";
constexpr int64_t kMaxBatch = 65536;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace

InferenceService::InferenceService(ServiceOptions options) : options_(std::move(options)) {
  std::vector<std::string> versions = options_.model_versions;
  if (versions.empty()) versions.push_back(options_.version);
  for (const std::string& v : versions) models_.emplace(v, TinyMlp(v, options_.features));
  default_version_ = versions.back();
}

grpc::Status InferenceService::ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                                          inference::ServerLiveResponse* response) {
  response->set_live(true);
  return grpc::Status::OK;
}

grpc::Status InferenceService::ServerReady(grpc::ServerContext*,
                                           const inference::ServerReadyRequest*,
                                           inference::ServerReadyResponse* response) {
  response->set_ready(ready_);
  return grpc::Status::OK;
}

grpc::Status InferenceService::ModelReady(grpc::ServerContext*,
                                          const inference::ModelReadyRequest* request,
                                          inference::ModelReadyResponse* response) {
  // Like Triton: an unknown model is "not ready", not an error, so probes stay simple.
  response->set_ready(FindModel(request->name(), request->version()).ok());
  return grpc::Status::OK;
}

grpc::Status InferenceService::ServerMetadata(grpc::ServerContext*,
                                              const inference::ServerMetadataRequest*,
                                              inference::ServerMetadataResponse* response) {
  response->set_name("rollout-demo-model-server");
  response->set_version(options_.version);
  return grpc::Status::OK;
}

grpc::Status InferenceService::ModelMetadata(grpc::ServerContext*,
                                             const inference::ModelMetadataRequest* request,
                                             inference::ModelMetadataResponse* response) {
  auto model = FindModel(request->name(), request->version());
  if (!model.ok())
    return grpc::Status(grpc::StatusCode::NOT_FOUND, std::string(model.status().message()));
  response->set_name(options_.model);
  if (request->version().empty()) {
    for (const auto& [version, mlp] : models_) response->add_versions(version);
  } else {
    response->add_versions(request->version());
  }
  response->set_platform("rollout_demo_mlp");
  auto* input = response->add_inputs();
  input->set_name(kInput);
  input->set_datatype("FP32");
  input->add_shape(-1);
  input->add_shape((*model)->second.inputs());
  auto* probabilities = response->add_outputs();
  probabilities->set_name(kProbabilities);
  probabilities->set_datatype("FP32");
  probabilities->add_shape(-1);
  probabilities->add_shape(TinyMlp::kClasses);
  auto* label = response->add_outputs();
  label->set_name(kClass);
  label->set_datatype("INT64");
  label->add_shape(-1);
  return grpc::Status::OK;
}

absl::StatusOr<const std::pair<const std::string, TinyMlp>*> InferenceService::FindModel(
    const std::string& name, const std::string& version) const {
  if (name != options_.model) {
    return absl::NotFoundError(
        absl::StrCat("unknown model \"", name, "\"; this server hosts \"", options_.model, "\""));
  }
  auto it = models_.find(version.empty() ? default_version_ : version);
  if (it == models_.end()) {
    std::vector<std::string> hosted;
    for (const auto& [v, mlp] : models_) hosted.push_back(v);
    return absl::NotFoundError(absl::StrCat("model \"", name, "\" has no version \"", version,
                                            "\"; this server hosts ", absl::StrJoin(hosted, ", ")));
  }
  return &*it;
}

namespace {

// The input tensor's values, from raw_input_contents or contents.fp32_contents (one of
// them), checked against the [batch, features] shape.
grpc::Status ReadFeatures(const inference::ModelInferRequest& request, int64_t batch, int features,
                          std::vector<float>* out) {
  const auto& input = request.inputs(0);
  const size_t values = static_cast<size_t>(batch) * features;
  std::vector<float>& data = *out;
  data.resize(values);
  const bool has_contents = input.has_contents() && input.contents().fp32_contents_size() > 0;
  if (request.raw_input_contents_size() > 0) {
    if (has_contents) {
      return Invalid("input data given both as raw_input_contents and as contents; use one");
    }
    const std::string& raw = request.raw_input_contents(0);
    if (raw.size() != values * sizeof(float)) {
      return Invalid(absl::StrCat("raw_input_contents[0] has ", raw.size(), " bytes; shape [",
                                  batch, ", ", features, "] FP32 needs ", values * sizeof(float)));
    }
    std::memcpy(data.data(), raw.data(), raw.size());
  } else if (has_contents) {
    if (static_cast<size_t>(input.contents().fp32_contents_size()) != values) {
      return Invalid(absl::StrCat("contents.fp32_contents has ",
                                  input.contents().fp32_contents_size(), " values; shape needs ",
                                  values));
    }
    std::copy(input.contents().fp32_contents().begin(), input.contents().fp32_contents().end(),
              data.begin());
  } else {
    return Invalid("input data missing: set raw_input_contents or contents.fp32_contents");
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status InferenceService::Infer(const inference::ModelInferRequest& request,
                                     inference::ModelInferResponse* response) const {
  auto model = FindModel(request.model_name(), request.model_version());
  if (!model.ok()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, std::string(model.status().message()));
  }
  const TinyMlp& mlp = (*model)->second;
  const int features = mlp.inputs();
  if (request.inputs_size() != 1 || request.inputs(0).name() != kInput) {
    return Invalid(absl::StrCat("expected exactly one input tensor named \"", kInput, "\", got ",
                                request.inputs_size()));
  }
  const auto& input = request.inputs(0);
  if (input.datatype() != "FP32") {
    return Invalid(absl::StrCat("input \"", kInput, "\": datatype must be FP32, got \"",
                                input.datatype(), "\""));
  }
  if (input.shape_size() != 2 || input.shape(1) != features || input.shape(0) < 1 ||
      input.shape(0) > kMaxBatch) {
    return Invalid(absl::StrCat("input \"", kInput, "\": shape must be [N, ", features,
                                "] with 1 <= N <= ", kMaxBatch, ", got [",
                                absl::StrJoin(input.shape(), ", "), "]"));
  }
  const int64_t batch = input.shape(0);
  const size_t values = static_cast<size_t>(batch) * features;
  std::vector<float> data;
  if (grpc::Status s = ReadFeatures(request, batch, features, &data); !s.ok()) return s;

  bool want_probabilities = request.outputs_size() == 0;
  bool want_class = request.outputs_size() == 0;
  for (const auto& output : request.outputs()) {
    if (output.name() == kProbabilities) {
      want_probabilities = true;
    } else if (output.name() == kClass) {
      want_class = true;
    } else {
      return Invalid(absl::StrCat("unknown output \"", output.name(), "\"; outputs are \"",
                                  kProbabilities, "\" and \"", kClass, "\""));
    }
  }

  std::string probabilities(values / features * TinyMlp::kClasses * sizeof(float), '\0');
  std::string classes(static_cast<size_t>(batch) * sizeof(int64_t), '\0');
  for (int64_t row = 0; row < batch; ++row) {
    const std::array<float, TinyMlp::kClasses> p = mlp.Predict(data.data() + row * features);
    std::memcpy(&probabilities[row * TinyMlp::kClasses * sizeof(float)], p.data(), sizeof(p));
    const int64_t label = std::max_element(p.begin(), p.end()) - p.begin();
    std::memcpy(&classes[row * sizeof(int64_t)], &label, sizeof(label));
  }

  response->set_model_name(options_.model);
  response->set_model_version((*model)->first);
  response->set_id(request.id());
  if (want_probabilities) {
    auto* out = response->add_outputs();
    out->set_name(kProbabilities);
    out->set_datatype("FP32");
    out->add_shape(batch);
    out->add_shape(TinyMlp::kClasses);
    response->add_raw_output_contents(std::move(probabilities));
  }
  if (want_class) {
    auto* out = response->add_outputs();
    out->set_name(kClass);
    out->set_datatype("INT64");
    out->add_shape(batch);
    response->add_raw_output_contents(std::move(classes));
  }
  return grpc::Status::OK;
}

namespace {

// Sleeps `ms`; false as soon as the call is cancelled.
bool Wait(grpc::ServerContext* context, int ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (context->IsCancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

grpc::Status InferenceService::InjectFaults(grpc::ServerContext* context) const {
  if (options_.extra_latency_ms > 0 && !Wait(context, options_.extra_latency_ms)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  }
  if (options_.error_rate > 0) {
    thread_local absl::BitGen rng;
    if (absl::Bernoulli(rng, options_.error_rate)) {
      return grpc::Status(
          grpc::StatusCode::INTERNAL,
          absl::StrCat("injected fault in model \"", options_.model, "\" version ",
                       options_.version, " (--error-rate ", options_.error_rate, ")"));
    }
  }
  return grpc::Status::OK;
}

grpc::Status InferenceService::ModelInfer(grpc::ServerContext* context,
                                          const inference::ModelInferRequest* request,
                                          inference::ModelInferResponse* response) {
  if (grpc::Status s = InjectFaults(context); !s.ok()) return s;
  return Infer(*request, response);
}

grpc::Status InferenceService::ModelStreamInfer(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<inference::ModelStreamInferResponse, inference::ModelInferRequest>*
        stream) {
  inference::ModelInferRequest request;
  while (stream->Read(&request)) {
    inference::ModelStreamInferResponse reply;
    grpc::Status s = InjectFaults(context);
    if (s.ok()) s = Infer(request, reply.mutable_infer_response());
    // As in Triton, a failed request is reported in the stream and the stream goes on.
    if (!s.ok()) {
      reply.Clear();
      reply.set_error_message(s.error_message());
    }
    if (!s.ok() || options_.generate <= 0) {
      if (!stream->Write(reply)) break;
      continue;
    }
    for (int token = 0; token < options_.generate; ++token) {  // a generative model's stream
      if (!Wait(context, token == 0 ? options_.first_token_ms : options_.token_ms)) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
      if (!stream->Write(reply)) return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

}  // namespace rollout::demo
