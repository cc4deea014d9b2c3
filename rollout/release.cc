#include "rollout/release.h"

#include "absl/strings/str_cat.h"

namespace rollout::control {
namespace {

int64_t ToNs(absl::Time t) {
  if (t == absl::InfinitePast()) return INT64_MIN;
  if (t == absl::InfiniteFuture()) return INT64_MAX;
  return absl::ToUnixNanos(t);
}
absl::Time FromNs(int64_t ns) {
  if (ns == INT64_MIN) return absl::InfinitePast();
  if (ns == INT64_MAX) return absl::InfiniteFuture();
  return absl::FromUnixNanos(ns);
}

absl::StatusOr<Phase> ParsePhase(const std::string& name) {
  if (std::optional<Phase> p = ValueOf(kPhaseNames, name)) return *p;
  return absl::DataLossError(absl::StrCat("unknown phase \"", name, "\""));
}

}  // namespace

std::string Rfc3339(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return "";
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

nlohmann::json Decision::ToJson() const {
  return {{"time_ns", ToNs(time)}, {"step", step},     {"kind", DecisionKindName(kind)},
          {"actor", actor},        {"detail", detail}, {"data", data}};
}

absl::StatusOr<Decision> Decision::FromJson(const nlohmann::json& j) {
  Decision d;
  d.time = FromNs(j.value("time_ns", int64_t{0}));
  d.step = j.value("step", 0);
  const std::string kind = j.value("kind", "");
  const std::optional<DecisionKind> k = ValueOf(kDecisionKindNames, kind);
  if (!k.has_value())
    return absl::DataLossError(absl::StrCat("unknown decision kind \"", kind, "\""));
  d.kind = *k;
  d.actor = j.value("actor", "");
  d.detail = j.value("detail", "");
  if (j.contains("data")) d.data = j["data"];
  return d;
}

nlohmann::json Gate::ToJson() const {
  return {{"name", name}, {"state", GateStateName(state)}, {"detail", detail},       {"data", data},
          {"by", by},     {"time_ns", ToNs(time)},         {"since_ns", ToNs(since)}};
}

absl::StatusOr<Gate> Gate::FromJson(const nlohmann::json& j) {
  Gate g;
  g.name = j.value("name", "");
  const std::optional<GateState> state = ValueOf(kGateStateNames, j.value("state", ""));
  if (g.name.empty() || !state.has_value()) {
    return absl::DataLossError("a gate needs a name and a known state");
  }
  g.state = *state;
  g.detail = j.value("detail", "");
  if (j.contains("data")) g.data = j["data"];
  g.by = j.value("by", "");
  g.time = FromNs(j.value("time_ns", INT64_MIN));
  g.since = FromNs(j.value("since_ns", INT64_MIN));
  return g;
}

std::string Release::Outcome() const {
  if (phase == Phase::kPromoted) return "promoted";
  if (phase == Phase::kAborted) return "aborted";
  return "in_progress";
}

double Release::CandidatePercent() const {
  if (gated()) return 0;
  switch (spec.strategy) {
    case Strategy::kCanary:
      if (phase == Phase::kPromoted) return 100;
      if (phase == Phase::kAborted) return 0;
      return spec.steps[step];
    case Strategy::kBlueGreen:
      return (phase == Phase::kPromoted || step >= 1) && phase != Phase::kAborted ? 100 : 0;
    case Strategy::kAbTest:
      if (phase == Phase::kPromoted) return 100;
      if (phase == Phase::kAborted) return 0;
      return spec.steps[0];
    case Strategy::kShadow:
      return 0;
    case Strategy::kRollback:
      return phase == Phase::kAborted ? 0 : 100;
  }
  return 0;
}

int Release::TotalSteps() const {
  switch (spec.strategy) {
    case Strategy::kCanary:
      return static_cast<int>(spec.steps.size());
    case Strategy::kBlueGreen:
      return 2;
    default:
      return 1;
  }
}

nlohmann::json Release::ToJson() const {
  nlohmann::json decisions_json = nlohmann::json::array();
  for (const Decision& d : decisions) decisions_json.push_back(d.ToJson());
  nlohmann::json gates_json = nlohmann::json::array();
  for (const Gate& g : gates) gates_json.push_back(g.ToJson());
  return {{"id", id},
          {"spec", spec.ToJson()},
          {"started_by", started_by},
          {"source", source},
          {"reason", reason},
          {"started_ns", ToNs(started)},
          {"ended_ns", ToNs(ended)},
          {"phase", PhaseName(phase)},
          {"paused_from", PhaseName(paused_from)},
          {"step", step},
          {"next_analysis_ns", ToNs(next_analysis)},
          {"deadline_ns", ToNs(deadline)},
          {"consecutive_failures", consecutive_failures},
          {"consecutive_holds", consecutive_holds},
          {"outcome_reason", outcome_reason},
          {"follows", follows},
          {"rollback_to", rollback_to},
          {"begun", begun},
          {"tally_step", tally_step},
          {"ab_stable", tally_stable.ToJson()},  // the keys of the A/B test's, which came first
          {"ab_candidate", tally_candidate.ToJson()},
          {"gates", gates_json},
          {"decisions", decisions_json}};
}

absl::StatusOr<Release> Release::FromJson(const nlohmann::json& j) {
  Release r;
  try {
    r.id = j.at("id").get<uint64_t>();
    absl::StatusOr<RolloutSpec> spec = RolloutSpec::FromJson(j.at("spec"));
    if (!spec.ok()) return spec.status();
    r.spec = *std::move(spec);
    r.started_by = j.value("started_by", "");
    r.source = j.value("source", "api");
    r.reason = j.value("reason", "");
    r.started = FromNs(j.at("started_ns").get<int64_t>());
    r.ended = FromNs(j.at("ended_ns").get<int64_t>());
    absl::StatusOr<Phase> phase = ParsePhase(j.at("phase").get<std::string>());
    if (!phase.ok()) return phase.status();
    r.phase = *phase;
    phase = ParsePhase(j.value("paused_from", "progressing"));
    if (!phase.ok()) return phase.status();
    r.paused_from = *phase;
    r.step = j.at("step").get<int>();
    r.next_analysis = FromNs(j.at("next_analysis_ns").get<int64_t>());
    r.deadline = FromNs(j.at("deadline_ns").get<int64_t>());
    r.consecutive_failures = j.value("consecutive_failures", 0);
    r.consecutive_holds = j.value("consecutive_holds", 0);
    r.outcome_reason = j.value("outcome_reason", "");
    r.follows = j.value("follows", uint64_t{0});
    r.rollback_to = j.value("rollback_to", uint64_t{0});
    r.begun = j.value("begun", r.phase != Phase::kGating && r.phase != Phase::kScheduled);
    r.tally_step = j.value("tally_step", 0);
    if (j.contains("ab_stable")) r.tally_stable = PoolStats::FromJson(j["ab_stable"]);
    if (j.contains("ab_candidate")) r.tally_candidate = PoolStats::FromJson(j["ab_candidate"]);
    for (const auto& g : j.value("gates", nlohmann::json::array())) {
      absl::StatusOr<Gate> gate = Gate::FromJson(g);
      if (!gate.ok()) return gate.status();
      r.gates.push_back(*std::move(gate));
    }
    for (const auto& d : j.at("decisions")) {
      absl::StatusOr<Decision> decision = Decision::FromJson(d);
      if (!decision.ok()) return decision.status();
      r.decisions.push_back(*std::move(decision));
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("release record: ", e.what()));
  }
  if (r.spec.strategy == Strategy::kCanary &&
      (r.step < 0 || r.step >= static_cast<int>(r.spec.steps.size()))) {
    return absl::DataLossError(absl::StrCat("release #", r.id, ": step ", r.step, " out of range"));
  }
  return r;
}

}  // namespace rollout::control
