// A/B test: a fixed sticky split (the candidate's share is steps[0]) that collects both
// arms' traffic for `duration` or until each has `sample_size` calls, then compares them
// (CompareArms). With auto_promote the verdict promotes or aborts; without it the rollout
// waits in phase concluded for a person.
#include "absl/strings/str_cat.h"
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
    if (candidate.ok()) next->tally_candidate.Add(*candidate);
    if (stable.ok()) next->tally_stable.Add(*stable);
    const RolloutSpec& spec = next->spec;
    const bool enough = spec.sample_size > 0 && next->tally_candidate.requests >= spec.sample_size &&
                        next->tally_stable.requests >= spec.sample_size;
    if (now < next->deadline && !enough) {
      return {DecisionKind::kHold,
              absl::StrCat(
                  "collecting: ", spec.stable, " ", Calls(next->tally_stable), ", ", spec.candidate,
                  " ", Calls(next->tally_candidate),
                  candidate.ok() ? "" : absl::StrCat("; no data: ", candidate.status().message())),
              {{"stable", next->tally_stable.ToJson()}, {"candidate", next->tally_candidate.ToJson()}}};
    }
    const ArmComparison verdict = CompareArms(next->tally_stable, next->tally_candidate, spec.alpha);
    if (spec.auto_promote) {
      return {verdict.candidate_worse ? DecisionKind::kAbort : DecisionKind::kPromote,
              absl::StrCat("A/B verdict: ", verdict.summary), verdict.ToJson()};
    }
    next->phase = Phase::kConcluded;
    return {DecisionKind::kVerdict, absl::StrCat(verdict.summary, "; waiting for promote or abort"),
            verdict.ToJson()};
  }

 private:
  static std::string Calls(const PoolStats& s) {
    return absl::StrCat(s.requests, " calls (", s.server_errors, " errors)");
  }
};

}  // namespace

const RolloutStrategy& AbTestStrategy() {
  static const AbTest kAbTest;
  return kAbTest;
}

}  // namespace rollout::control
