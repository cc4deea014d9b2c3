// The RolloutEngine's pre-release gates: asking them at the start and again while a
// rollout waits in phase gating, and what their answers do to the release.
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "rollout/compatibility_gate.h"
#include "rollout/http_client.h"
#include "rollout/rollout_engine.h"
#include "rollout/strategy.h"

namespace rollout::control {

std::vector<Gate> RolloutEngine::PendingGates(const RolloutSpec& spec) const {
  std::vector<Gate> gates = {
      {kCompatibilityGate, GateState::kPending, "not asked yet", {}, "", {}}};
  if (spec.load_test.has_value()) {
    Gate g{kLoadTestGate, GateState::kPending, "not begun yet", {}, "", {}};
    g.ask_again = options_.clock();  // at once: it takes a while
    gates.push_back(std::move(g));
  }
  if (spec.approval.has_value()) {
    gates.push_back({kApprovalGate, GateState::kPending, "not asked yet", {}, "", {}});
  }
  return gates;
}

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
  std::vector<Gate> gates = PendingGates(spec);
  gates.front() = std::move(gate);
  return gates;
}

Gate RolloutEngine::AskApproval(const RolloutSpec& spec, Gate g, uint64_t id,
                                const std::string& actor, const std::string& reason) {
  const absl::Time now = options_.clock();
  if (g.since == absl::InfinitePast()) g.since = now;
  const absl::Time deadline = g.since + spec.approval->timeout;
  if (now >= deadline) {
    g.state = GateState::kFailed;
    g.by = kEngineActor;
    g.time = now;
    g.detail = absl::StrCat("no approval within ", absl::FormatDuration(spec.approval->timeout));
    return g;
  }
  const std::string by_hand =
      absl::StrCat("rolloutctl rollout approve ", spec.route, " --reason R (it times out at ",
                   Rfc3339(absl::FromUnixSeconds(absl::ToUnixSeconds(deadline))), ")");
  if (spec.approval->webhook.empty()) {
    g.detail = absl::StrCat("waiting for a sign-off: ", by_hand);
    return g;
  }
  // What the approver needs to judge the release: its versions and what they are.
  const std::map<std::string, VersionRecord> versions = controller_->Versions();
  auto describe = [&](const std::string& pool, const std::string& version) {
    nlohmann::json j = {{"pool", pool}, {"version", version}};
    if (auto v = versions.find(version); v != versions.end()) {
      j.update({{"model", v->second.model},
                {"model_version", v->second.model_version},
                {"artifact", v->second.artifact},
                {"digest", v->second.digest},
                {"notes", v->second.notes}});
    }
    return j;
  };
  const nlohmann::json body = {{"event", "RolloutApproval"},
                               {"release", id},
                               {"route", spec.route},
                               {"strategy", StrategyName(spec.strategy)},
                               {"stable", describe(spec.stable, spec.stable_version)},
                               {"candidate", describe(spec.candidate, spec.candidate_version)},
                               {"notes", spec.notes},
                               {"started_by", actor},
                               {"reason", reason},
                               {"deadline", Rfc3339(deadline)}};
  absl::StatusOr<HttpResponse> r =
      HttpPostJson(spec.approval->webhook, body.dump(), options_.probe_timeout);
  nlohmann::json answer;
  if (r.ok()) answer = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (!r.ok() || r->status / 100 != 2 || !answer.is_object() || !answer.contains("approved") ||
      !answer["approved"].is_boolean()) {
    const std::string why = !r.ok()                ? std::string(r.status().message())
                            : r->status / 100 != 2 ? absl::StrCat("HTTP ", r->status)
                                                   : "no {\"approved\": true|false} in its answer";
    g.detail = absl::StrCat("waiting for ", spec.approval->webhook, " (", why, "), or ", by_hand);
    return g;
  }
  const bool approved = answer["approved"].get<bool>();
  const std::string said = answer.value("reason", "");
  g.state = approved ? GateState::kPassed : GateState::kFailed;
  g.by = spec.approval->webhook;
  g.time = now;
  g.data = answer;
  g.detail = absl::StrCat(approved ? "approved by " : "denied by ", spec.approval->webhook,
                          said.empty() ? "" : ": ", said);
  return g;
}

Gate RolloutEngine::RerunGate(const Release& r) {
  const Gate* pending = r.pending_gate();
  Gate none;  // nothing (left) to ask: GateLocked moves on
  none.state = GateState::kPassed;
  if (pending == nullptr) return none;
  if (pending->name == kApprovalGate) {
    return AskApproval(r.spec, *pending, r.id, r.started_by, r.reason);
  }
  if (pending->name == kLoadTestGate) return AskLoadTest(r, *pending);
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

namespace {

// What a gate that runs on its own is doing (its data's "stage"), or "".
std::string StageOf(const Gate& g) {
  return g.data.is_object() ? g.data.value("stage", std::string()) : std::string();
}

}  // namespace

bool RolloutEngine::QuietLocked(const Release& next, const Gate& gate) {
  Release& current = releases_.at(next.id);
  const Gate* before = current.pending_gate();
  const absl::Time now = options_.clock();
  if (gate.state != GateState::kPending || gate.ask_again == absl::InfinitePast() ||
      before == nullptr || before->name != gate.name || StageOf(*before) != StageOf(gate) ||
      current.decisions.empty() ||
      now - current.decisions.back().time >= current.spec.analysis.interval) {
    return false;
  }
  for (Gate& g : current.gates) {
    if (g.name == gate.name) g = gate;  // shown by the status; recorded at the next change
  }
  current.next_analysis = gate.ask_again;
  return true;
}

absl::Status RolloutEngine::GateLocked(Release next, Gate gate, const std::string& actor) {
  if (QuietLocked(next, gate)) return absl::OkStatus();
  const absl::Time now = options_.clock();
  for (Gate& g : next.gates) {
    if (!gate.name.empty() && g.name == gate.name) g = gate;
  }
  absl::Status s;
  if (gate.state == GateState::kFailed) {
    s = EndLocked(std::move(next), DecisionKind::kAbort, actor,
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
    s = CommitLocked(next, {{}, 0, kind, actor, std::move(detail), gate.data}, std::move(change));
  }
  return s;
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
    if (g->ask_again != absl::InfinitePast()) {
      r->next_analysis = std::min(r->next_analysis, g->ask_again);
    }
    const absl::Duration next = absl::Ceil(r->next_analysis - now, absl::Milliseconds(100));
    return absl::StrCat("at the ", g->name, " gate, no traffic yet: ", g->detail,
                        next <= absl::ZeroDuration()
                            ? "; next look at once"
                            : absl::StrCat("; next look in ", absl::FormatDuration(next)));
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

absl::StatusOr<Release> RolloutEngine::Approve(const std::string& actor, const std::string& route,
                                               const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Release*> active = ActiveLocked(route);
  if (!active.ok()) return active.status();
  Release next = **active;
  Gate* approval = nullptr;
  for (Gate& g : next.gates) {
    if (g.name == kApprovalGate && g.state == GateState::kPending) approval = &g;
  }
  if (approval == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("rollout #", next.id, " has no approval waiting"));
  }
  Gate gate = *approval;
  gate.state = GateState::kPassed;
  gate.by = actor;
  gate.time = options_.clock();
  gate.detail = absl::StrCat("approved by ", actor, reason.empty() ? "" : ": ", reason);
  const uint64_t id = next.id;
  RETURN_IF_ERROR(GateLocked(std::move(next), std::move(gate), actor));
  return releases_.at(id);
}

}  // namespace rollout::control
