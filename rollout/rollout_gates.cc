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
  for (Gate& g : next.gates) {
    if (!gate.name.empty() && g.name == gate.name) g = gate;
  }
  absl::Status s;
  if (gate.state == GateState::kFailed) {
    s = EndLocked(std::move(next), DecisionKind::kAbort, kEngineActor,
                  absl::StrCat("aborted at the ", gate.name, " gate: ", gate.detail), gate.data);
  } else {
    const std::string what = Prestart(&next, now);
    const bool answered = !gate.name.empty() && gate.state != GateState::kPending;
    const DecisionKind kind = answered     ? DecisionKind::kGate
                              : next.begun ? DecisionKind::kStep
                                           : DecisionKind::kHold;
    std::string detail = answered ? absl::StrCat(gate.name, " gate ", GateStateName(gate.state),
                                                 ": ", gate.detail, "; ", what)
                                  : absl::StrCat(next.begun ? "" : "hold: ", what);
    std::optional<RouteOverride> change;
    if (next.begun) change = RouteChangeFor(next);
    s = CommitLocked(next, {{}, 0, kind, kEngineActor, std::move(detail), gate.data},
                     std::move(change));
  }
  if (!s.ok()) log::Error(absl::StrCat("rollout #", next.id, ": ", s.message()));
}

std::string RolloutEngine::Prestart(Release* r, absl::Time now) const {
  const RolloutSpec& spec = r->spec;
  if (now < spec.start_at) {
    r->phase = Phase::kScheduled;
    r->next_analysis = spec.start_at;
    return absl::StrCat(
        "scheduled, no traffic until it starts at ", Rfc3339(spec.start_at), " (in ",
        absl::FormatDuration(absl::Trunc(spec.start_at - now, absl::Seconds(1))), ")");
  }
  if (const Gate* g = r->pending_gate()) {
    r->phase = Phase::kGating;
    r->next_analysis = now + spec.analysis.interval;
    return absl::StrCat("at the ", g->name, " gate, no traffic yet: ", g->detail, "; next try in ",
                        absl::FormatDuration(spec.analysis.interval));
  }
  if (spec.window.has_value() && !spec.window->Contains(now)) {
    r->phase = Phase::kWaitingForWindow;
    r->next_analysis = spec.window->NextOpening(now);
    return absl::StrCat("outside its window (", spec.window->ToString(),
                        "), no traffic yet; it opens at ", Rfc3339(r->next_analysis));
  }
  r->begun = true;
  r->phase = Phase::kProgressing;
  r->next_analysis = now + spec.analysis.interval;
  if (spec.strategy == Strategy::kAbTest && spec.duration > absl::ZeroDuration()) {
    r->deadline = now + spec.duration;  // the test's time starts with its traffic
  }
  return absl::StrCat(StrategyOf(spec.strategy).Describe(*r), "; first analysis in ",
                      absl::FormatDuration(spec.analysis.interval));
}

void RolloutEngine::AskGatesAgain(Release* r) {
  for (Gate& g : r->gates) {
    if (g.by != kEngineActor || g.state == GateState::kFailed) continue;
    g.state = GateState::kPending;
    g.detail = "asked again at the start time";
  }
}

}  // namespace rollout::control
