// RolloutEngine::Rollback: the route back, in one step, to what an earlier release left
// serving, through the same checks as a start (versions, the compatibility gate).
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rollout/rollout_engine.h"
#include "rollout/strategy.h"

namespace rollout::control {
namespace {

// The pool with the largest share of `route` now, or "" if there is no such route.
std::string ServingPool(const routing::RoutingTable& table, const std::string& route) {
  for (const auto& r : table.routes()) {
    if (r.name == route) return table.pools()[r.split.pool(r.split.Largest())].name;
  }
  return "";
}

}  // namespace

absl::StatusOr<RolloutSpec> RolloutEngine::RollbackSpec(const std::string& route,
                                                        uint64_t to_release,
                                                        const std::string& to_version) const {
  std::string target = to_version;
  if (to_release != 0) {
    absl::StatusOr<Release> old = GetById(to_release);
    if (!old.ok()) return old.status();
    if (old->spec.route != route) {
      return absl::FailedPreconditionError(absl::StrCat(
          "release #", to_release, " was on route \"", old->spec.route, "\", not \"", route, "\""));
    }
    if (old->active()) {
      return absl::FailedPreconditionError(
          absl::StrCat("release #", to_release, " is still in progress; abort it instead"));
    }
    // What it left serving: its candidate if it ended at 100%, else its stable.
    target = old->CandidatePercent() >= 100 ? old->spec.CandidateName() : old->spec.StableName();
  }
  const std::shared_ptr<const routing::RoutingTable> table = controller_->store()->Current();
  RolloutSpec spec;
  spec.route = route;
  spec.strategy = Strategy::kRollback;
  spec.stable = ServingPool(*table, route);
  spec.candidate = target;
  if (spec.stable.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("route: unknown route \"", route, "\""));
  }
  absl::Status named = NameVersions(*controller_, &spec);
  if (!named.ok()) return absl::Status(named.code(), absl::StrCat("rollback ", named.message()));
  bool known = false;
  for (const auto& p : table->pools()) known = known || p.name == spec.candidate;
  if (!known) {
    return absl::FailedPreconditionError(
        absl::StrCat("pool \"", spec.candidate, "\" is no longer in the config"));
  }
  if (spec.candidate == spec.stable) {
    return absl::FailedPreconditionError(
        absl::StrCat("route \"", route, "\" serves ", spec.CandidateName(), " already"));
  }
  return spec;
}

absl::StatusOr<Release> RolloutEngine::Rollback(const std::string& actor, const std::string& route,
                                                uint64_t to_release, const std::string& to_version,
                                                const std::string& reason) {
  if ((to_release == 0) == to_version.empty()) {
    return absl::InvalidArgumentError("give one of to_release (--to-release N) or to_version");
  }
  if (reason.empty())
    return absl::InvalidArgumentError("reason: required, it goes to the audit log");
  absl::StatusOr<RolloutSpec> planned = RollbackSpec(route, to_release, to_version);
  if (!planned.ok()) return planned.status();
  RolloutSpec spec = *std::move(planned);
  absl::StatusOr<std::vector<Gate>> gates = RunGates(spec);  // asks the backends: no lock
  if (!gates.ok()) return gates.status();

  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, r] : releases_) {
    if (r.active() && r.spec.route == route) {
      return absl::FailedPreconditionError(absl::StrCat("route \"", route, "\" has rollout #", id,
                                                        " in progress; abort it to roll back"));
    }
  }
  const absl::Time now = options_.clock();
  Release r;
  r.id = next_id_;
  r.spec = std::move(spec);
  r.started_by = actor;
  r.source = "api";
  r.reason = reason;
  r.started = now;
  r.rollback_to = to_release;
  r.gates = *std::move(gates);
  const std::string what = to_release != 0
                               ? absl::StrCat("what release #", to_release, " left serving")
                               : r.spec.CandidateName();
  const std::string head = absl::StrCat("rollback ", r.spec.Direction(), ": ");
  r.decisions.push_back({now, 1, DecisionKind::kStart, actor,
                         absl::StrCat(head, "back to ", what, " in one step (", reason, ")"),
                         r.spec.ToJson()});
  for (Gate& g : r.gates) {
    if (g.state == GateState::kPending) {  // not ready: no traffic goes to it
      g.state = GateState::kFailed;
      g.detail = absl::StrCat("rollback target not ready: ", g.detail);
    }
    if (g.state == GateState::kFailed) return RefuseLocked(std::move(r), g, actor, head);
  }
  r.phase = Phase::kPromoted;
  r.ended = now;
  r.outcome_reason = absl::StrCat("rolled back to ", what, ": ", reason);
  Decision d{now,
             0,
             DecisionKind::kPromote,
             actor,
             absl::StrCat("rolled back: ", r.spec.CandidateName(), " takes 100%, ",
                          r.spec.StableName(), " 0%"),
             {}};
  const uint64_t id = r.id;
  RETURN_IF_ERROR(CommitLocked(r, std::move(d), RouteChangeFor(r)));
  return releases_.at(id);
}

}  // namespace rollout::control
