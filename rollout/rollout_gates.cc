// The RolloutEngine's pre-release gates: asking them at the start and again while a
// rollout waits in phase gating, and what their answers do to the release.
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "rollout/compatibility_gate.h"
#include "rollout/rollout_engine.h"
#include "rollout/strategy.h"

namespace rollout::control {

absl::StatusOr<std::vector<Gate>> RolloutEngine::RunGates(const RolloutSpec& spec) {
  absl::StatusOr<CompatibilityGate::Plan> plan =
      CompatibilityGate::Make(*controller_->store()->Current(), spec, controller_->Versions());
  if (!plan.ok()) return plan.status();
  Gate gate;
  if (plan->run && options_.probe == nullptr) {
    gate = {kCompatibilityGate,
            GateState::kSkipped,
            "compatibility not checked: this engine has no model probe",
            {},
            "",
            {}};
  } else {
    gate = CompatibilityGate::Run(*plan, options_.probe, options_.probe_timeout);
  }
  gate.by = kEngineActor;
  gate.time = options_.clock();
  return std::vector<Gate>{std::move(gate)};
}

Gate RolloutEngine::RerunGate(const Release& r) {
  const Gate* pending = r.pending_gate();
  Gate none;  // nothing (left) to ask: GateLocked moves on
  none.state = GateState::kPassed;
  if (pending == nullptr) return none;
  absl::StatusOr<std::vector<Gate>> gates = RunGates(r.spec);
  if (!gates.ok()) {
    return {pending->name, GateState::kFailed, std::string(gates.status().message()), {},
            kEngineActor,  options_.clock()};
  }
  for (Gate& g : *gates) {
    if (g.name == pending->name) return std::move(g);
  }
  return none;
}

void RolloutEngine::GateLocked(Release next, Gate gate) {
  const absl::Time now = options_.clock();
  next.next_analysis = now + next.spec.analysis.interval;
  for (Gate& g : next.gates) {
    if (g.name == gate.name) g = gate;
  }
  absl::Status s;
  if (gate.state == GateState::kFailed) {
    s = EndLocked(std::move(next), DecisionKind::kAbort, kEngineActor,
                  absl::StrCat("aborted at the ", gate.name, " gate: ", gate.detail), gate.data);
  } else if (gate.state == GateState::kPending) {
    s = CommitLocked(next,
                     {{},
                      0,
                      DecisionKind::kHold,
                      kEngineActor,
                      absl::StrCat("hold at the ", gate.name, " gate: ", gate.detail),
                      gate.data},
                     std::nullopt);
  } else {
    std::string detail =
        absl::StrCat(gate.name, " gate ", GateStateName(gate.state), ": ", gate.detail);
    if (next.pending_gate() == nullptr) {
      next.phase = Phase::kProgressing;
      if (next.spec.strategy == Strategy::kAbTest && next.spec.duration > absl::ZeroDuration()) {
        next.deadline = now + next.spec.duration;  // the test's time starts with its traffic
      }
      absl::StrAppend(&detail, "; ", StrategyOf(next.spec.strategy).Describe(next),
                      "; first analysis in ", absl::FormatDuration(next.spec.analysis.interval));
    }
    s = CommitLocked(next, {{}, 0, DecisionKind::kGate, kEngineActor, detail, gate.data},
                     RouteChangeFor(next));
  }
  if (!s.ok()) log::Error(absl::StrCat("rollout #", next.id, ": ", s.message()));
}

}  // namespace rollout::control
