#include "rollout/strategy.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rollout::control {

const RolloutStrategy& StrategyOf(Strategy s) {
  switch (s) {
    case Strategy::kCanary:
      return CanaryStrategy();
    case Strategy::kBlueGreen:
      return BlueGreenStrategy();
    case Strategy::kAbTest:
      return AbTestStrategy();
    case Strategy::kShadow:
      return ShadowStrategy();
    case Strategy::kRollback:
      return RollbackStrategy();
  }
  return CanaryStrategy();
}

RouteOverride RouteChangeFor(const Release& r) {
  RouteOverride o;
  const double candidate = r.CandidatePercent();
  o.split = {{r.spec.stable, 100 - candidate}, {r.spec.candidate, candidate}};
  if (r.active() && !r.gated()) StrategyOf(r.spec.strategy).Shape(r, &o);
  return o;  // a final phase: the file's mirror and header come back
}

void AddToTally(Release* next, const absl::StatusOr<PoolStats>& candidate,
                const absl::StatusOr<PoolStats>& stable) {
  if (next->tally_step != next->step) {  // a new step: its own evidence
    next->tally_step = next->step;
    next->tally_candidate = PoolStats();
    next->tally_stable = PoolStats();
  }
  if (candidate.ok()) next->tally_candidate.Add(*candidate);
  if (stable.ok()) next->tally_stable.Add(*stable);
}

Verdict JudgeInterval(Release* next, const absl::StatusOr<PoolStats>& candidate,
                      const absl::StatusOr<PoolStats>& stable, bool shadow) {
  const Release& r = *next;
  const AnalysisSpec& a = r.spec.analysis;
  AddToTally(next, candidate, stable);
  // Relative checks need the stable pool's window; absolute ones do not.
  const bool needs_stable = !shadow && (a.max_error_rate_increase || a.max_p99_ratio);
  if (!candidate.ok() ||
      (needs_stable && !stable.ok() && r.tally_candidate.requests >= a.min_requests)) {
    const absl::Status& why = !candidate.ok() ? candidate.status() : stable.status();
    Verdict v;
    v.outcome = Outcome::kHold;
    v.summary = absl::StrCat("hold: no data (", why.message(), ")");
    return v;
  }
  // The rollout's alpha is shared by its steps: each is a test of its own.
  const double alpha = r.spec.alpha / std::max(1, r.TotalSteps());
  Verdict v = shadow ? JudgeShadow(a, r.tally_candidate, r.tally_stable, alpha)
                     : Judge(a, r.tally_candidate, r.tally_stable, alpha);
  // What was judged, kept with the decision: the windows' counts, and how many replicas
  // they add up.
  v.windows = {{"candidate", candidate->CountsJson()},
               {"stable", stable.ok() ? stable->CountsJson() : PoolStats().CountsJson()},
               {"step_candidate", r.tally_candidate.CountsJson()},
               {"step_stable", r.tally_stable.CountsJson()}};
  return v;
}

std::optional<Move> HoldOrFail(Release* next, const Verdict& v) {
  const AnalysisSpec& a = next->spec.analysis;
  switch (v.outcome) {
    case Outcome::kHold:
      next->consecutive_holds += 1;
      if (next->consecutive_holds >= a.inconclusive_limit) {
        next->paused_from = next->phase;
        next->phase = Phase::kInconclusive;
        return Move{DecisionKind::kInconclusive,
                    absl::StrCat("inconclusive: ", next->consecutive_holds,
                                 " analyses in a row could not decide (inconclusive_limit ",
                                 a.inconclusive_limit, "); last: ", v.summary, "; stopped at ",
                                 Where(*next), " for a person to resume, promote or abort"),
                    v.ToJson()};
      }
      return Move{DecisionKind::kHold, v.summary, v.ToJson()};
    case Outcome::kFail:
      next->consecutive_holds = 0;
      next->consecutive_failures += 1;
      if (next->consecutive_failures >= a.failure_limit) {
        return Move{DecisionKind::kAbort,
                    absl::StrCat("aborted: ", next->consecutive_failures,
                                 " failed analyses in a row (failure_limit ", a.failure_limit,
                                 "); last: ", v.summary),
                    v.ToJson()};
      }
      return Move{DecisionKind::kFail,
                  absl::StrCat("analysis failed (", next->consecutive_failures, "/",
                               a.failure_limit, "): ", v.summary),
                  v.ToJson()};
    case Outcome::kPass:
      break;
  }
  next->consecutive_failures = 0;
  next->consecutive_holds = 0;
  return std::nullopt;
}

std::string Percent(double p) { return absl::StrFormat("%g%%", p); }

std::string Where(const Release& r) {
  return absl::StrCat(r.spec.CandidateName(), " at ", Percent(r.CandidatePercent()), " (step ",
                      r.step + 1, "/", r.TotalSteps(), ")");
}

}  // namespace rollout::control
