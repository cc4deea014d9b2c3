#include "rollout/compatibility.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "credentials/tls_credentials.h"
#include "inference/grpc_predict_v2.grpc.pb.h"

namespace rollout::control {
namespace {

const TensorSpec* Find(const std::vector<TensorSpec>& tensors, const std::string& name) {
  for (const TensorSpec& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool ShapesAgree(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != -1 && b[i] != -1 && a[i] != b[i]) return false;
  }
  return true;
}

// `kind` "input" or "output": the first difference of `candidate` from `stable`.
std::optional<std::string> TensorMismatch(const char* kind, const TensorSpec& stable,
                                          const TensorSpec& candidate) {
  if (candidate.datatype != stable.datatype) {
    return absl::StrCat(kind, " \"", stable.name, "\" datatype ", candidate.datatype, " vs ",
                        stable.datatype);
  }
  if (!ShapesAgree(candidate.shape, stable.shape)) {
    return absl::StrCat(kind, " \"", stable.name, "\" shape ", ShapeText(candidate.shape), " vs ",
                        ShapeText(stable.shape));
  }
  return std::nullopt;
}

nlohmann::json TensorsJson(const std::vector<TensorSpec>& tensors) {
  nlohmann::json out = nlohmann::json::array();
  for (const TensorSpec& t : tensors) {
    out.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  }
  return out;
}

}  // namespace

std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

nlohmann::json ModelSchema::ToJson() const {
  return {{"model", model},
          {"versions", versions},
          {"inputs", TensorsJson(inputs)},
          {"outputs", TensorsJson(outputs)}};
}

std::optional<std::string> SchemaMismatch(const ModelSchema& stable, const ModelSchema& candidate) {
  for (const TensorSpec& s : stable.inputs) {
    const TensorSpec* c = Find(candidate.inputs, s.name);
    if (c == nullptr) return absl::StrCat("input \"", s.name, "\" missing in the candidate");
    if (auto why = TensorMismatch("input", s, *c)) return why;
  }
  for (const TensorSpec& c : candidate.inputs) {
    if (Find(stable.inputs, c.name) == nullptr) {
      return absl::StrCat("input \"", c.name, "\" only in the candidate (", c.datatype, " ",
                          ShapeText(c.shape), "); callers of the stable model do not send it");
    }
  }
  for (const TensorSpec& s : stable.outputs) {
    const TensorSpec* c = Find(candidate.outputs, s.name);
    if (c == nullptr) return absl::StrCat("output \"", s.name, "\" missing in the candidate");
    if (auto why = TensorMismatch("output", s, *c)) return why;
  }
  return std::nullopt;
}

std::vector<std::string> ExtraOutputs(const ModelSchema& stable, const ModelSchema& candidate) {
  std::vector<std::string> out;
  for (const TensorSpec& c : candidate.outputs) {
    if (Find(stable.outputs, c.name) == nullptr) out.push_back(c.name);
  }
  return out;
}

absl::StatusOr<ProbeResult> GrpcModelProbe::Probe(const ProbeTarget& target,
                                                  absl::Duration timeout) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(
      target.endpoint, credentials::ChannelCredentials(target.tls, &args), args);
  auto stub = inference::GRPCInferenceService::NewStub(channel);
  const absl::Time deadline = absl::Now() + timeout;
  auto failed = [&](const char* call, const grpc::Status& s) {
    return absl::UnavailableError(absl::StrCat(target.endpoint, " ", call, ": ", s.error_message(),
                                               " (code ", s.error_code(), ")"));
  };
  ProbeResult result;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    inference::ServerReadyResponse ready;
    grpc::Status s = stub->ServerReady(&ctx, inference::ServerReadyRequest(), &ready);
    if (!s.ok()) return failed("ServerReady", s);
    if (!ready.ready()) {
      result.not_ready = absl::StrCat("server ", target.endpoint, " is not ready");
      return result;
    }
  }
  inference::ModelReadyRequest model;
  model.set_name(target.model);
  model.set_version(target.model_version);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    inference::ModelReadyResponse ready;
    grpc::Status s = stub->ModelReady(&ctx, model, &ready);
    if (!s.ok()) return failed("ModelReady", s);
    if (!ready.ready()) {
      result.not_ready = absl::StrCat(
          "model \"", target.model, "\"",
          target.model_version.empty() ? "" : absl::StrCat(" version ", target.model_version),
          " is not ready on ", target.endpoint);
      return result;
    }
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(deadline));
  inference::ModelMetadataRequest request;
  request.set_name(target.model);
  request.set_version(target.model_version);
  inference::ModelMetadataResponse metadata;
  grpc::Status s = stub->ModelMetadata(&ctx, request, &metadata);
  if (!s.ok()) return failed("ModelMetadata", s);
  result.ready = true;
  result.schema.model = metadata.name();
  result.schema.versions.assign(metadata.versions().begin(), metadata.versions().end());
  for (const auto& [from, to] : {std::pair{&metadata.inputs(), &result.schema.inputs},
                                 std::pair{&metadata.outputs(), &result.schema.outputs}}) {
    for (const auto& t : *from) {
      to->push_back({t.name(), t.datatype(), {t.shape().begin(), t.shape().end()}});
    }
  }
  return result;
}

}  // namespace rollout::control
