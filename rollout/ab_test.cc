// A/B test: a fixed sticky split (the candidate's share is steps[0]) that collects both
// arms' traffic and judges it after every interval with the always-valid A/B verdict
// (JudgeArms): it ends as soon as the candidate is shown worse than stable by more than
// its margins on a metric, or no worse on every metric; otherwise at `duration` or once
// each arm has `sample_size` calls, inconclusive. With auto_promote a shown verdict
// promotes or aborts (an inconclusive one never promotes); without it, or when
// inconclusive, the rollout waits in phase concluded for a person.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rollout/ab_verdict.h"
#include "rollout/strategy.h"

namespace rollout::control {
namespace {

class AbTest final : public RolloutStrategy {
 public:
  std::string Describe(const Release& r) const override {
    return absl::StrCat("sticky split ", r.spec.stable, " ", Percent(100 - r.spec.steps[0]), " / ",
                        r.spec.candidate, " ", Percent(r.spec.steps[0]));
  }

  Move Analyse(Release* next, const absl::StatusOr<PoolStats>& candidate,
               const absl::StatusOr<PoolStats>& stable, absl::Time now) const override {
    AddToTally(next, candidate, stable);
    const RolloutSpec& spec = next->spec;
    const PoolStats& c = next->tally_candidate;
    const PoolStats& s = next->tally_stable;
    const uint64_t min = spec.analysis.min_requests;
    const bool judged = c.requests >= min && s.requests >= min;
    const bool at_end =
        now >= next->deadline ||
        (spec.sample_size > 0 && c.requests >= spec.sample_size && s.requests >= spec.sample_size);
    AbVerdict v;
    if (judged) {
      v = JudgeArms(s, c, spec.non_inferiority_margin, spec.latency_margin, spec.alpha);
    }
    const bool shown = judged && (v.any_inferior || v.all_non_inferior);
    nlohmann::json data = {{"stable", s.CountsJson()},
                           {"candidate", c.CountsJson()},
                           {"verdict", v.ToJson()},
                           {"fixed_horizon", CompareArms(s, c, spec.alpha).ToJson()}};
    if (!shown && !at_end) {
      std::string detail = absl::StrCat("collecting: ", spec.stable, " ", Calls(s), ", ",
                                        spec.candidate, " ", Calls(c), "; ", Needs(*next, now));
      if (judged) absl::StrAppend(&detail, "; so far ", v.summary);
      if (!candidate.ok()) absl::StrAppend(&detail, "; no data: ", candidate.status().message());
      return {DecisionKind::kHold, std::move(detail), std::move(data)};
    }
    const std::string verdict =
        absl::StrCat("A/B verdict: ",
                     !judged          ? "inconclusive: too few calls at the end of the test"
                     : v.any_inferior ? "the candidate is worse than stable by more than its margin"
                     : shown          ? "the candidate is no worse than stable on every metric"
                                      : "inconclusive at the end of the test",
                     judged ? ": " : "", v.summary);
    if (spec.auto_promote && shown) {
      return {v.any_inferior ? DecisionKind::kAbort : DecisionKind::kPromote, verdict,
              std::move(data)};
    }
    next->phase = Phase::kConcluded;
    return {DecisionKind::kVerdict, absl::StrCat(verdict, "; waiting for promote or abort"),
            std::move(data)};
  }

 private:
  static std::string Calls(const PoolStats& s) {
    return absl::StrCat(s.requests, " calls (", s.server_errors, " errors)");
  }
  static std::string Needs(const Release& r, absl::Time now) {
    const PoolStats& s = r.tally_stable;
    const uint64_t have = std::min(s.requests, r.tally_candidate.requests);
    const double seconds = absl::ToDoubleSeconds(now - r.started);
    return AbTestNeeds(r.spec, s.requests > 0 ? s.ErrorRate() : kAssumedErrorRate, have,
                       seconds > 0 ? have / seconds : 0);
  }
};

}  // namespace

std::string AbTestNeeds(const RolloutSpec& spec, double error_rate, uint64_t have,
                        double per_arm_rate) {
  const uint64_t n = CallsPerArmFor(error_rate, spec.non_inferiority_margin, spec.alpha);
  std::string out =
      absl::StrCat("needs about ", n, " calls per arm to tell the error rates apart by the margin");
  if (per_arm_rate > 0 && n > have) {
    const double left = (n - have) / per_arm_rate;
    absl::StrAppend(&out, " (about ", absl::FormatDuration(absl::Seconds(std::round(left))),
                    have > 0 ? " more" : "", " at ", absl::StrFormat("%.3g", per_arm_rate),
                    " calls/s per arm)");
  }
  return out;
}

std::string AbTestPlan(const RolloutSpec& spec, const absl::StatusOr<PoolStats>& stable,
                       absl::Duration window) {
  if (!stable.ok() || stable->requests == 0) {
    return AbTestNeeds(spec, kAssumedErrorRate, 0, 0) +
           absl::StrCat(" at a ", Pct(kAssumedErrorRate),
                        " error rate (stable has no traffic to go by yet)");
  }
  // Before the split, stable has the route's calls; the smaller arm gets its share of them.
  const double share = std::min(spec.steps[0], 100 - spec.steps[0]) / 100;
  return AbTestNeeds(spec, stable->ErrorRate(), 0,
                     stable->requests / absl::ToDoubleSeconds(window) * share) +
         absl::StrCat(" at stable's ", Pct(stable->ErrorRate()), " error rate");
}

const RolloutStrategy& AbTestStrategy() {
  static const AbTest kAbTest;
  return kAbTest;
}

}  // namespace rollout::control
