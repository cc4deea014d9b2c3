// The RolloutEngine's person-driven phase verbs (pause, resume) and its reads (the
// records, the events, the gauges).
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rollout/rollout_engine.h"
#include "rollout/strategy.h"

namespace rollout::control {

absl::StatusOr<Release> RolloutEngine::Pause(const std::string& actor, const std::string& route,
                                             const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Release*> active = ActiveLocked(route);
  if (!active.ok()) return active.status();
  Release next = **active;
  if (next.phase == Phase::kPaused || next.phase == Phase::kConcluded ||
      next.phase == Phase::kInconclusive) {
    return absl::FailedPreconditionError(
        absl::StrCat("rollout #", next.id, " is ", PhaseName(next.phase), ", not running"));
  }
  next.paused_from = next.phase;
  next.phase = Phase::kPaused;
  Decision d{{},
             0,
             DecisionKind::kPause,
             actor,
             absl::StrCat("paused at ", Where(next), reason.empty() ? "" : ": ", reason),
             {}};
  RETURN_IF_ERROR(CommitLocked(next, std::move(d), std::nullopt));
  return releases_.at(next.id);
}

absl::StatusOr<Release> RolloutEngine::Resume(const std::string& actor, const std::string& route,
                                              const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::StatusOr<Release*> active = ActiveLocked(route);
  if (!active.ok()) return active.status();
  Release next = **active;
  if (next.phase != Phase::kPaused && next.phase != Phase::kInconclusive) {
    return absl::FailedPreconditionError(
        absl::StrCat("rollout #", next.id, " is ", PhaseName(next.phase), ", not paused"));
  }
  const absl::Time now = options_.clock();
  absl::Time paused_at = now;
  for (const Decision& d : next.decisions) {
    if (d.kind == DecisionKind::kPause || d.kind == DecisionKind::kInconclusive) {
      paused_at = d.time;
    }
  }
  next.phase = next.paused_from;
  next.consecutive_holds = 0;  // an inconclusive rollout gets a fresh count of holds
  next.next_analysis = now + next.spec.analysis.interval;
  if (next.deadline != absl::InfiniteFuture()) next.deadline += now - paused_at;  // time frozen
  Decision d{{},
             0,
             DecisionKind::kResume,
             actor,
             absl::StrCat("resumed at ", Where(next), "; next analysis in ",
                          absl::FormatDuration(next.spec.analysis.interval),
                          reason.empty() ? "" : ": ", reason),
             {}};
  RETURN_IF_ERROR(CommitLocked(next, std::move(d), std::nullopt));
  return releases_.at(next.id);
}

absl::StatusOr<Release> RolloutEngine::Get(const std::string& route) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Release* latest = nullptr;
  for (const auto& [id, r] : releases_) {
    if (r.spec.route != route) continue;
    if (r.active()) return r;
    latest = &r;
  }
  if (latest == nullptr) {
    return absl::NotFoundError(absl::StrCat("route \"", route, "\" has had no rollout"));
  }
  return *latest;
}

absl::StatusOr<Release> RolloutEngine::GetById(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = releases_.find(id);
  if (it == releases_.end()) {
    return absl::NotFoundError(absl::StrCat("no release #", id, " (kept: the last ",
                                            options_.max_finished_records, " finished)"));
  }
  return it->second;
}

std::vector<Release> RolloutEngine::History(const std::string& route) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Release> out;
  for (const auto& [id, r] : releases_) {
    if (route.empty() || r.spec.route == route) out.push_back(r);
  }
  return out;
}

std::vector<RolloutEngine::Event> RolloutEngine::WaitEvents(uint64_t after_seq,
                                                            const std::string& route,
                                                            absl::Time deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<Event> out;
  while (true) {
    for (const Event& e : events_) {
      if (e.seq > after_seq && (route.empty() || e.release.spec.route == route)) out.push_back(e);
    }
    if (!out.empty() || absl::Now() >= deadline) return out;
    events_cv_.wait_until(lock, absl::ToChronoTime(deadline));
  }
}

uint64_t RolloutEngine::LastEventSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return event_seq_;
}

std::vector<RolloutEngine::RouteGauge> RolloutEngine::Gauges() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, const Release*> latest;
  for (const auto& [id, r] : releases_) {
    const Release*& slot = latest[r.spec.route];
    if (slot == nullptr || !slot->active()) slot = &r;
  }
  std::vector<RouteGauge> out;
  for (const auto& [route, r] : latest) out.push_back({route, r->step + 1, r->phase});
  return out;
}

}  // namespace rollout::control
