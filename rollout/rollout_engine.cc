#include "rollout/rollout_engine.h"

#include <cstdio>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "rollout/compatibility_gate.h"
#include "rollout/strategy.h"

namespace rollout::control {
namespace {

constexpr const char* kEngine = kEngineActor;
constexpr char kConfig[] = "config";  // the actor of the config file's rollouts
constexpr size_t kMaxEvents = 1000;

std::string AuditVerb(DecisionKind kind) {
  std::string verb = DecisionKindName(kind);
  verb[0] = absl::ascii_toupper(verb[0]);
  return "Rollout" + verb;
}

}  // namespace

absl::Status NameVersions(const Controller& controller, RolloutSpec* spec) {
  for (auto [field, name, version] :
       {std::tuple{"stable", &spec->stable, &spec->stable_version},
        std::tuple{"candidate", &spec->candidate, &spec->candidate_version}}) {
    absl::StatusOr<Controller::Named> named = controller.ResolveVersion(*name);
    if (!named.ok()) {
      return absl::Status(named.status().code(),
                          absl::StrCat(field, ": ", named.status().message()));
    }
    *name = named->pool;
    *version = named->version;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RolloutEngine>> RolloutEngine::Create(Controller* controller,
                                                                     Options options) {
  if (options.source == nullptr) return absl::InvalidArgumentError("rollout engine: no source");
  std::unique_ptr<RolloutEngine> engine(new RolloutEngine(controller, std::move(options)));
  if (controller->leads_engine()) {
    RETURN_IF_ERROR(engine->TakeOver());
  } else {
    engine->Refresh();
  }
  return engine;
}

void RolloutEngine::LoadLocked() {
  const nlohmann::json records = controller_->rollouts();
  releases_.clear();
  next_id_ = 1;
  if (!records.is_object()) return;
  next_id_ = records.value("next_id", uint64_t{1});
  for (const auto& j : records.value("releases", nlohmann::json::array())) {
    absl::StatusOr<Release> r = Release::FromJson(j);
    if (!r.ok()) {
      log::Warn(absl::StrCat("skipped a release record: ", r.status().message()));
      continue;
    }
    next_id_ = std::max(next_id_, r->id + 1);
    releases_[r->id] = *std::move(r);
  }
}

void RolloutEngine::Refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  LoadLocked();
}

absl::Status RolloutEngine::TakeOver() {
  std::lock_guard<std::mutex> lock(mu_);
  LoadLocked();
  // Windows kept in memory are gone (a restart, or another replica led until now): give
  // each active rollout a fresh interval of traffic before it is judged again, and say
  // where it goes on from.
  const absl::Time now = options_.clock();
  std::vector<Release> active;
  for (const auto& [id, r] : releases_) {
    if (r.active()) active.push_back(r);
  }
  for (Release next : active) {
    // Not begun: its plan (start time, window) says when to look again.
    if (next.begun) next.next_analysis = now + next.spec.analysis.interval;
    Decision d{
        now,
        0,
        DecisionKind::kRestore,
        kEngine,
        absl::StrCat("proxy restarted: ", PhaseName(next.phase), ", ", Where(next),
                     "; next analysis in ", absl::FormatDuration(next.spec.analysis.interval)),
        {}};
    RETURN_IF_ERROR(CommitLocked(next, d, RouteChangeFor(next)));
  }
  return absl::OkStatus();
}

namespace {

// Drops the oldest finished records beyond `keep`; active ones always stay.
void PruneFinished(std::map<uint64_t, Release>* releases, size_t keep) {
  size_t finished = 0;
  for (const auto& [id, r] : *releases) finished += r.active() ? 0 : 1;
  for (auto it = releases->begin(); it != releases->end() && finished > keep;) {
    if (it->second.active()) {
      ++it;
    } else {
      it = releases->erase(it);
      --finished;
    }
  }
}

}  // namespace

absl::Status RolloutEngine::CommitLocked(Release next, Decision decision,
                                         std::optional<RouteOverride> change) {
  decision.time = options_.clock();
  decision.step = next.step + 1;
  next.decisions.push_back(decision);
  AuditEntry entry{decision.time,
                   decision.actor,
                   AuditVerb(decision.kind),
                   next.spec.route,
                   nullptr,
                   nullptr,
                   absl::StrCat("#", next.id, " ", decision.detail),
                   0};
  // The records as they are once this commits: the state file and memory hold the same.
  std::map<uint64_t, Release> after = releases_;
  after[next.id] = next;
  PruneFinished(&after, options_.max_finished_records);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [id, r] : after) list.push_back(r.ToJson());
  const uint64_t next_id = std::max(next_id_, next.id + 1);
  // The engine's own decisions (and the config's rollouts) come from the leader only.
  const bool by_engine = decision.actor == kEngine || decision.actor == kConfig;
  absl::StatusOr<uint64_t> committed = controller_->CommitRollout(
      next.spec.route, std::move(change), next.active(),
      {{"next_id", next_id}, {"releases", std::move(list)}}, entry, by_engine);
  if (IsStoreConflict(committed.status())) LoadLocked();  // recompute from the store's records
  if (!committed.ok()) return committed.status();
  next_id_ = next_id;
  releases_ = std::move(after);
  events_.push_back({++event_seq_, next, decision});
  if (events_.size() > kMaxEvents) events_.pop_front();
  events_cv_.notify_all();
  if (options_.notifier != nullptr && IsPhaseChange(decision.kind)) {
    options_.notifier->Notify({{"event", AuditVerb(decision.kind)},
                               {"release", next.id},
                               {"route", next.spec.route},
                               {"strategy", StrategyName(next.spec.strategy)},
                               {"stable", next.spec.stable},
                               {"candidate", next.spec.candidate},
                               {"stable_version", next.spec.stable_version},
                               {"candidate_version", next.spec.candidate_version},
                               {"phase", PhaseName(next.phase)},
                               {"step", next.step + 1},
                               {"candidate_percent", next.CandidatePercent()},
                               {"actor", decision.actor},
                               {"detail", decision.detail},
                               {"data", decision.data},
                               {"time", Rfc3339(decision.time)}});
  }
  return absl::OkStatus();
}

absl::StatusOr<Release> RolloutEngine::Start(const std::string& actor, RolloutSpec spec,
                                             const std::string& reason, const std::string& source) {
  // The gates ask the backends: before taking the lock, on the spec as it will run.
  RETURN_IF_ERROR(NameVersions(*controller_, &spec));
  RETURN_IF_ERROR(ValidateRolloutSpec(*controller_->Current().table, &spec));
  absl::StatusOr<std::vector<Gate>> gates = RunGates(spec);
  if (!gates.ok()) return gates.status();
  for (Gate& g : *gates) {  // in order: each is asked once the ones before it passed
    if (g.state == GateState::kPending && g.name == kApprovalGate) {
      g = AskApproval(spec, g, 0, actor, reason);
    }
    if (g.state == GateState::kPending || g.state == GateState::kFailed) break;
  }
  // An A/B test says at its start how many calls it needs: from stable's traffic now (a
  // metric-source query, so outside the lock too).
  std::string plan;
  if (spec.strategy == Strategy::kAbTest) {
    plan =
        AbTestPlan(spec, options_.source->Window(spec.route, spec.stable, spec.analysis.interval),
                   spec.analysis.interval);
  }
  std::lock_guard<std::mutex> lock(mu_);
  return StartLocked(actor, std::move(spec), reason, source, 0, *std::move(gates), plan);
}

absl::StatusOr<Release> RolloutEngine::StartLocked(const std::string& actor, RolloutSpec spec,
                                                   const std::string& reason,
                                                   const std::string& source, uint64_t follows,
                                                   std::vector<Gate> gates,
                                                   const std::string& plan) {
  RETURN_IF_ERROR(NameVersions(*controller_, &spec));
  RETURN_IF_ERROR(ValidateRolloutSpec(*controller_->Current().table, &spec));
  for (const auto& [id, r] : releases_) {
    if (r.active() && r.spec.route == spec.route) {
      return absl::FailedPreconditionError(
          absl::StrCat("route \"", spec.route, "\" already has rollout #", id, " in progress (",
                       StrategyName(r.spec.strategy), " ", r.spec.Direction(), ", ",
                       PhaseName(r.phase), "); promote or abort it first"));
    }
  }
  const absl::Time now = options_.clock();
  Release r;
  r.id = next_id_;
  r.spec = std::move(spec);
  r.started_by = actor;
  r.source = source;
  r.reason = reason;
  r.started = now;
  r.follows = follows;
  r.begun = false;
  r.gates = std::move(gates);
  const std::string head =
      absl::StrCat(StrategyName(r.spec.strategy), " ", r.spec.Direction(), ": ");
  for (const Gate& g : r.gates) {
    if (g.state == GateState::kFailed) return RefuseLocked(std::move(r), g, actor, head);
  }
  std::vector<std::string> gate_notes;
  for (const Gate& g : r.gates)
    gate_notes.push_back(absl::StrCat(g.name, " ", GateStateName(g.state)));
  const std::string what = Prestart(&r, now);
  Decision d{now,
             0,
             DecisionKind::kStart,
             actor,
             absl::StrCat(head, what, plan.empty() ? "" : "; ", plan,
                          gate_notes.empty() ? "" : "; gates: ", absl::StrJoin(gate_notes, ", "),
                          reason.empty() ? "" : absl::StrCat(" (", reason, ")")),
             r.spec.ToJson()};
  const RouteOverride change = RouteChangeFor(r);
  RETURN_IF_ERROR(CommitLocked(r, std::move(d), change));
  return releases_.at(r.id);
}

absl::Status RolloutEngine::RefuseLocked(Release r, const Gate& gate, const std::string& actor,
                                         const std::string& head) {
  r.phase = Phase::kAborted;
  r.ended = options_.clock();
  r.outcome_reason = absl::StrCat("refused at the ", gate.name, " gate: ", gate.detail);
  Decision d{r.ended,  0, DecisionKind::kAbort, actor, absl::StrCat(head, r.outcome_reason),
             gate.data};
  RETURN_IF_ERROR(CommitLocked(r, std::move(d), std::nullopt));
  return absl::FailedPreconditionError(
      absl::StrCat(gate.detail, " (recorded as release #", r.id, ", aborted)"));
}

absl::StatusOr<Release*> RolloutEngine::ActiveLocked(const std::string& route) {
  Release* latest = nullptr;
  for (auto& [id, r] : releases_) {
    if (r.spec.route != route) continue;
    if (r.active()) return &r;
    latest = &r;
  }
  if (latest == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("route \"", route, "\" has no rollout in progress"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("route \"", route, "\" has no rollout in progress (the last, #", latest->id,
                   ", was ", latest->Outcome(), " at ", Rfc3339(latest->ended), ")"));
}

absl::Status RolloutEngine::EndLocked(Release next, DecisionKind end, const std::string& actor,
                                      const std::string& detail, nlohmann::json data) {
  const bool promote = end == DecisionKind::kPromote;
  const std::optional<RolloutSpec> follow_up =
      promote ? StrategyOf(next.spec.strategy).FollowUp(next) : std::nullopt;
  next.phase = promote ? Phase::kPromoted : Phase::kAborted;
  next.ended = options_.clock();
  if (options_.load_tester != nullptr) options_.load_tester->Cancel(next.id);  // if one runs
  next.outcome_reason = detail;
  std::string outcome;
  if (!promote) {
    outcome = absl::StrCat(detail, "; ", next.spec.StableName(), " back to 100%");
  } else if (follow_up.has_value()) {
    outcome = absl::StrCat(detail, "; starting a ", StrategyName(follow_up->strategy), " of ",
                           next.spec.candidate);
  } else {
    outcome = absl::StrCat(detail, "; ", next.spec.CandidateName(), " now takes 100%");
  }
  Decision d{{}, 0, end, actor, std::move(outcome), std::move(data)};
  RETURN_IF_ERROR(CommitLocked(next, std::move(d), RouteChangeFor(next)));
  if (!follow_up.has_value()) return absl::OkStatus();
  // The same candidate passed its gates at the first rollout's start.
  return StartLocked(actor, *follow_up,
                     absl::StrCat("promoted from ", StrategyName(next.spec.strategy), " rollout #",
                                  next.id),
                     next.source, next.id, next.gates)
      .status();
}

absl::StatusOr<Release> RolloutEngine::EndByHand(DecisionKind end, const std::string& actor,
                                                 const std::string& route,
                                                 const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Release*> active = ActiveLocked(route);
  if (!active.ok()) return active.status();
  const uint64_t id = (*active)->id;
  if (end == DecisionKind::kPromote && (*active)->gated()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rollout #", id, " is still at its gates (",
                     (*active)->pending_gate() ? (*active)->pending_gate()->detail : "paused",
                     "); the candidate has had no traffic: wait, or abort it"));
  }
  const std::string detail =
      absl::StrCat(end == DecisionKind::kPromote ? "promoted by " : "aborted by ", actor, " at ",
                   Where(**active), reason.empty() ? "" : ": ", reason);
  RETURN_IF_ERROR(EndLocked(**active, end, actor, detail, {}));
  return releases_.at(id);
}

std::vector<std::string> RolloutEngine::StartDeclared(const std::vector<RolloutSpec>& declared) {
  std::vector<std::string> notes;
  if (!controller_->leads_engine()) {
    return {"the config's rollouts are started by the leader replica"};
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const RolloutSpec& spec : declared) {
    RolloutSpec filled = spec;
    absl::Status s = NameVersions(*controller_, &filled);
    if (s.ok()) s = ValidateRolloutSpec(*controller_->Current().table, &filled);
    if (!s.ok()) {
      notes.push_back(absl::StrCat("rollout on ", spec.route, " not started: ", s.message()));
      continue;
    }
    const std::string key = filled.ToJson().dump();
    const Release* ran = nullptr;
    for (const auto& [id, r] : releases_) {
      if (r.source == "config" && r.spec.ToJson().dump() == key) ran = &r;
    }
    if (ran != nullptr) {
      notes.push_back(absl::StrCat("rollout on ", spec.route, ": the config's rollout ran as #",
                                   ran->id, " (", ran->Outcome(), ")"));
      continue;
    }
    // The gates run on the next tick, without the lock.
    absl::StatusOr<Release> r = StartLocked(kConfig, filled, "declared in the config file", kConfig,
                                            0, PendingGates(filled));
    notes.push_back(
        r.ok() ? absl::StrCat("rollout on ", spec.route, ": started #", r->id)
               : absl::StrCat("rollout on ", spec.route, " not started: ", r.status().message()));
  }
  return notes;
}

void RolloutEngine::Tick() {
  if (!controller_->leads_engine()) return;  // another replica leads the rollout engine
  const std::shared_ptr<const routing::RoutingTable> table = controller_->store()->Current();
  auto has_pool = [&](const std::string& name) {
    for (const auto& p : table->pools()) {
      if (p.name == name) return true;
    }
    return false;
  };
  // What a reload took away from under a rollout, or "" if nothing.
  auto missing = [&](const Release& r) -> std::string {
    bool route = false;
    for (const auto& t : table->routes()) route = route || t.name == r.spec.route;
    if (!route) return absl::StrCat("route \"", r.spec.route, "\"");
    if (!has_pool(r.spec.stable)) return absl::StrCat("pool \"", r.spec.stable, "\"");
    if (!has_pool(r.spec.candidate)) return absl::StrCat("pool \"", r.spec.candidate, "\"");
    return "";
  };
  std::vector<Release> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = options_.clock();
    for (const auto& [id, r] : releases_) {
      const bool running = r.phase == Phase::kProgressing || r.phase == Phase::kRollbackWindow ||
                           r.phase == Phase::kGating || r.phase == Phase::kScheduled ||
                           r.phase == Phase::kWaitingForWindow;
      const bool orphaned = r.active() && !missing(r).empty();
      if (orphaned || (running && (now >= r.next_analysis || now >= r.deadline))) {
        due.push_back(r);
      }
    }
  }
  for (const Release& r : due) {
    if (const std::string gone = missing(r); !gone.empty()) {
      // A reload removed a pool or the route (the route's weights went back to the file's):
      // the rollout cannot go on.
      std::lock_guard<std::mutex> lock(mu_);
      auto it = releases_.find(r.id);
      if (it == releases_.end() || !it->second.active()) continue;
      Release next = it->second;
      next.phase = Phase::kAborted;
      next.ended = options_.clock();
      next.outcome_reason =
          absl::StrCat("aborted: ", gone, " is no longer in the config; the file's weights apply");
      Decision d{{}, 0, DecisionKind::kAbort, kEngine, next.outcome_reason, {}};
      if (absl::Status s = CommitLocked(next, std::move(d), std::nullopt); !s.ok()) {
        log::Error(absl::StrCat("rollout #", r.id, ": ", s.message()));
      }
      continue;
    }
    if (!r.begun) {
      Release next = r;
      if (next.phase == Phase::kScheduled && options_.clock() >= next.spec.start_at) {
        AskGatesAgain(&next);  // the start time came: ask the backends as they are now
      }
      Gate gate = RerunGate(next);  // asks the backends: outside the lock
      std::lock_guard<std::mutex> lock(mu_);
      auto it = releases_.find(r.id);
      if (it == releases_.end() || it->second.decisions.size() != r.decisions.size()) continue;
      if (absl::Status s = GateLocked(std::move(next), std::move(gate)); !s.ok()) {
        log::Error(absl::StrCat("rollout #", r.id, ": ", s.message()));
      }
      continue;
    }
    // Read outside the lock: a Prometheus query may take a while.
    const absl::Duration window = r.spec.analysis.interval;
    absl::StatusOr<PoolStats> candidate =
        options_.source->Window(r.spec.route, r.spec.candidate, window);
    absl::StatusOr<PoolStats> stable = options_.source->Window(r.spec.route, r.spec.stable, window);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = releases_.find(r.id);
    // Skip it if an admin acted on it meanwhile; the next tick sees the new state.
    if (it == releases_.end() || it->second.decisions.size() != r.decisions.size()) continue;
    AnalyseLocked(it->second, candidate, stable);
  }
}

void RolloutEngine::AnalyseLocked(Release next, const absl::StatusOr<PoolStats>& candidate,
                                  const absl::StatusOr<PoolStats>& stable) {
  const absl::Time now = options_.clock();
  next.next_analysis = now + next.spec.analysis.interval;
  const bool open = !next.spec.window.has_value() || next.spec.window->Contains(now);
  if (open && next.phase == Phase::kWaitingForWindow) next.phase = Phase::kProgressing;
  Release trial = next;
  Move m = StrategyOf(next.spec.strategy).Analyse(&trial, candidate, stable, now);
  const bool advance = m.kind == DecisionKind::kStep || m.kind == DecisionKind::kSwitch ||
                       m.kind == DecisionKind::kPromote;
  if (advance && !open) return HoldForWindowLocked(std::move(next), trial, m);
  next = std::move(trial);
  absl::Status s;
  if (m.kind == DecisionKind::kPromote || m.kind == DecisionKind::kAbort) {
    s = EndLocked(std::move(next), m.kind, kEngine, m.detail, std::move(m.data));
  } else {
    std::optional<RouteOverride> change;
    if (m.route_changes) change = RouteChangeFor(next);
    s = CommitLocked(next, {{}, 0, m.kind, kEngine, std::move(m.detail), std::move(m.data)},
                     std::move(change));
  }
  if (!s.ok()) {
    log::Error(absl::StrCat("rollout #", next.id, ": ", s.message()));
  }
}

void RolloutEngine::HoldForWindowLocked(Release next, const Release& passed, const Move& m) {
  // The analyses go on outside the window (a failing candidate is still aborted); only
  // the move waits.
  next.consecutive_failures = passed.consecutive_failures;
  if (next.phase == Phase::kProgressing) next.phase = Phase::kWaitingForWindow;
  const std::string prefix = "hold: outside the release window";
  if (!next.decisions.empty() && next.decisions.back().detail.rfind(prefix, 0) == 0) {
    releases_[next.id].next_analysis = next.next_analysis;  // said already: no new record
    return;
  }
  const std::string detail =
      absl::StrCat(prefix, " (", next.spec.window->ToString(), "), the next step waits until ",
                   Rfc3339(next.spec.window->NextOpening(options_.clock())), ": ", m.detail);
  absl::Status s =
      CommitLocked(next, {{}, 0, DecisionKind::kHold, kEngine, detail, m.data}, std::nullopt);
  if (!s.ok()) log::Error(absl::StrCat("rollout #", next.id, ": ", s.message()));
}

}  // namespace rollout::control
