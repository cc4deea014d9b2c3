#include "rollout/compatibility_gate.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rollout::control {
namespace {

constexpr char kKserve[] = "/inference.";

const routing::RoutingTable::Pool* FindPool(const routing::RoutingTable& table,
                                            const std::string& name) {
  for (const auto& p : table.pools()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// The model one side serves: its version's, else its pool's, else the route's match.
std::pair<std::string, std::string> ModelOf(const routing::RoutingTable::Pool& pool,
                                            const std::string& version,
                                            const std::map<std::string, VersionRecord>& versions,
                                            const std::string& route_model) {
  if (auto v = versions.find(version); v != versions.end() && !v->second.model.empty()) {
    return {v->second.model, v->second.model_version};
  }
  if (!pool.model_name.empty()) return {pool.model_name, pool.model_version};
  return {route_model, ""};
}

}  // namespace

absl::StatusOr<CompatibilityGate::Plan> CompatibilityGate::Make(
    const routing::RoutingTable& table, const RolloutSpec& spec,
    const std::map<std::string, VersionRecord>& versions) {
  Plan plan;
  if (spec.compatibility == Compatibility::kNone) {
    plan.skipped = "compatibility: none";
    return plan;
  }
  const bool required = spec.compatibility == Compatibility::kSchema;
  auto skip = [&](std::string why) -> absl::StatusOr<Plan> {
    if (required) {
      return absl::FailedPreconditionError(absl::StrCat("compatibility: schema cannot run: ", why,
                                                        " (or start with compatibility none)"));
    }
    plan.skipped = std::move(why);
    return plan;
  };
  const routing::RoutingTable::Route* route = nullptr;
  for (const auto& r : table.routes()) {
    if (r.name == spec.route) route = &r;
  }
  const routing::RoutingTable::Pool* stable = FindPool(table, spec.stable);
  const routing::RoutingTable::Pool* candidate = FindPool(table, spec.candidate);
  if (route == nullptr || stable == nullptr || candidate == nullptr) {
    return absl::FailedPreconditionError("compatibility: the route or a pool is gone");
  }
  const bool kserve = (route->method_prefix.empty() && route->method.empty()) ||
                      absl::StartsWith(route->method_prefix, kKserve) ||
                      absl::StartsWith(route->method, kKserve);
  if (!kserve) {
    return skip(absl::StrCat("route ", route->name, " does not carry the KServe v2 service (",
                             route->method_prefix, route->method, ")"));
  }
  for (auto [side, pool, version, name] :
       {std::tuple{&plan.stable, stable, &spec.stable_version, &spec.StableName()},
        std::tuple{&plan.candidate, candidate, &spec.candidate_version, &spec.CandidateName()}}) {
    side->name = *name;
    const auto [model, model_version] = ModelOf(*pool, *version, versions, route->model);
    if (model.empty()) {
      return skip(absl::StrCat("the model's name is not known for ", *name,
                               " (register the version with --model, or set the pool's "
                               "model_name)"));
    }
    for (const std::string& endpoint : pool->endpoints) {
      side->targets.push_back({endpoint, pool->tls, model, model_version});
    }
  }
  plan.run = true;
  return plan;
}

Gate CompatibilityGate::Run(const Plan& plan, ModelProbe* probe, absl::Duration timeout) {
  Gate gate;
  gate.name = kCompatibilityGate;
  if (!plan.run) {
    gate.state = GateState::kSkipped;
    gate.detail = absl::StrCat("compatibility not checked: ", plan.skipped);
    return gate;
  }
  // One side's schema: from the first endpoint that answers ready.
  auto ask = [&](const Side& side, const char* role, ModelSchema* schema) -> std::string {
    std::vector<std::string> problems;
    for (const ProbeTarget& target : side.targets) {
      absl::StatusOr<ProbeResult> r = probe->Probe(target, timeout);
      if (r.ok() && r->ready) {
        *schema = r->schema;
        gate.data[role] = {{"endpoint", target.endpoint},
                           {"model", target.model},
                           {"model_version", target.model_version},
                           {"schema", r->schema.ToJson()}};
        return "";
      }
      problems.push_back(r.ok() ? r->not_ready : std::string(r.status().message()));
    }
    return absl::StrCat(role, " ", side.name, " not ready: ", absl::StrJoin(problems, "; "));
  };
  ModelSchema stable, candidate;
  std::string waiting = ask(plan.candidate, "candidate", &candidate);
  if (waiting.empty()) waiting = ask(plan.stable, "stable", &stable);
  if (!waiting.empty()) {
    gate.state = GateState::kPending;
    gate.detail = absl::StrCat("waiting: ", waiting);
    return gate;
  }
  if (std::optional<std::string> why = SchemaMismatch(stable, candidate)) {
    gate.state = GateState::kFailed;
    gate.detail = absl::StrCat("candidate ", plan.candidate.name, " is not compatible with ",
                               plan.stable.name, ": ", *why);
    return gate;
  }
  gate.state = GateState::kPassed;
  const std::vector<std::string> extra = ExtraOutputs(stable, candidate);
  gate.detail = absl::StrCat(
      "candidate ", plan.candidate.name, " is compatible with ", plan.stable.name, ": ",
      stable.inputs.size(), " inputs, ", stable.outputs.size(), " outputs agree",
      extra.empty() ? "" : "; outputs only in the candidate: ", absl::StrJoin(extra, ", "));
  return gate;
}

}  // namespace rollout::control
