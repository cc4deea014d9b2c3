// CompatibilityGate: the compatibility gate of one rollout, from its spec to a Gate answer.
//
// Plan() says whether the gate runs for a spec, and where each side is asked: the first
// endpoint of each pool that answers, for the model named by the side's version (model,
// model_version), else by its pool (model_name, model_version), else by the route's
// `match.model`. Run() probes both sides (outside any lock: it makes network calls) and
// compares their schemas (compatibility.h):
//   passed  - compatible; the schemas and any outputs only the candidate has are kept;
//   failed  - "candidate v2 is not compatible with v1: input "features" shape [-1,5] vs
//             [-1,4]";
//   pending - a side is not ready or cannot be reached: the start holds, and asks again;
//   skipped - the gate does not apply, and why (compatibility: none, not a KServe route,
//             no model name known).
//
// Thread-safety: a pure function of its arguments plus the thread-safe probe.
#ifndef ROLLOUT_ROLLOUT_COMPATIBILITY_GATE_H_
#define ROLLOUT_ROLLOUT_COMPATIBILITY_GATE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/rollout_spec.h"
#include "rollout/compatibility.h"
#include "rollout/release.h"
#include "routing/routing_table.h"
#include "state/version_record.h"

namespace rollout::control {

inline constexpr char kCompatibilityGate[] = "compatibility";
inline constexpr char kApprovalGate[] = "approval";

class CompatibilityGate {
 public:
  struct Side {
    std::string name;                  // the version's, else the pool's
    std::vector<ProbeTarget> targets;  // one per endpoint, asked in order
  };
  struct Plan {
    bool run = false;
    std::string skipped;  // why not, when !run
    Side stable, candidate;
  };
  // FAILED_PRECONDITION when the spec asks for the gate (compatibility: schema) and it
  // cannot run, naming what is missing.
  static absl::StatusOr<Plan> Make(const routing::RoutingTable& table, const RolloutSpec& spec,
                                   const std::map<std::string, VersionRecord>& versions);
  // The gate's answer (state, detail, data); `by` and `time` are left to the caller.
  static Gate Run(const Plan& plan, ModelProbe* probe, absl::Duration timeout);
};

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_COMPATIBILITY_GATE_H_
