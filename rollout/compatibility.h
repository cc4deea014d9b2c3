// The compatibility gate: does a candidate model take the same inputs and give the same
// outputs as the stable one?
//
// Before a rollout sends the candidate any traffic, the engine asks one endpoint of each
// side (ModelProbe: ServerReady, ModelReady, ModelMetadata of the KServe v2 / Open
// Inference Protocol) for the model's tensors and compares them:
//   - every input of one side must be an input of the other, with the same datatype and a
//     shape of the same rank whose dimensions agree (-1 matches any size);
//   - every output of the stable model must be an output of the candidate, the same way;
//     outputs only the candidate has are allowed (callers that do not ask for them are
//     not affected), and noted.
//
//   std::optional<std::string> why = SchemaMismatch(stable, candidate);
//   // "input \"features\" shape [-1,5] vs [-1,4]" (candidate's first)
//
// Thread-safety: ModelProbe implementations are thread-safe; the rest are pure functions.
#ifndef ROLLOUT_ROLLOUT_COMPATIBILITY_H_
#define ROLLOUT_ROLLOUT_COMPATIBILITY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "routing/tls_spec.h"

namespace rollout::control {

struct TensorSpec {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;  // -1: any size
};

struct ModelSchema {
  std::string model;
  std::vector<std::string> versions;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;

  nlohmann::json ToJson() const;
};

// The first difference that breaks callers of `stable` when `candidate` answers them, or
// nullopt when it is compatible.
std::optional<std::string> SchemaMismatch(const ModelSchema& stable, const ModelSchema& candidate);
// The candidate's outputs that the stable model does not have.
std::vector<std::string> ExtraOutputs(const ModelSchema& stable, const ModelSchema& candidate);
// "[-1,4]".
std::string ShapeText(const std::vector<int64_t>& shape);

// Where to ask, and for which model.
struct ProbeTarget {
  std::string endpoint;  // host:port
  routing::UpstreamTlsSpec tls;
  std::string model;
  std::string model_version;  // "" for the server's default
};

// One side's answer. Not ready (the server or the model) is an answer, not an error; an
// unreachable server is UNAVAILABLE.
struct ProbeResult {
  bool ready = false;
  std::string not_ready;  // why, when !ready
  ModelSchema schema;
};

class ModelProbe {
 public:
  virtual ~ModelProbe() = default;
  virtual absl::StatusOr<ProbeResult> Probe(const ProbeTarget& target, absl::Duration timeout) = 0;
};

// Over gRPC (the KServe v2 service), plaintext or TLS as the pool's backends are.
class GrpcModelProbe final : public ModelProbe {
 public:
  absl::StatusOr<ProbeResult> Probe(const ProbeTarget& target, absl::Duration timeout) override;
};

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_COMPATIBILITY_H_
