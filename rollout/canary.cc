// Canary: the candidate's share climbs through spec.steps; each interval's analysis against
// the live stable pool holds the step, fails (aborting at failure_limit), or moves to the
// next step, and the last step's pass promotes.
#include "absl/strings/str_cat.h"
#include "rollout/strategy.h"

namespace rollout::control {
namespace {

class Canary final : public RolloutStrategy {
 public:
  std::string Describe(const Release& r) const override { return Where(r); }

  Move Analyse(Release* next, const absl::StatusOr<PoolStats>& candidate,
               const absl::StatusOr<PoolStats>& stable, absl::Time /*now*/) const override {
    const Verdict v = JudgeInterval(next, candidate, stable, /*shadow=*/false);
    if (std::optional<Move> m = HoldOrFail(next, v)) return *m;
    if (next->step + 1 >= static_cast<int>(next->spec.steps.size())) {
      return {DecisionKind::kPromote, absl::StrCat("promoted: the last step passed: ", v.summary),
              v.ToJson()};
    }
    next->step += 1;
    return {DecisionKind::kStep,
            absl::StrCat("analysis passed: ", v.summary, "; now ", Where(*next)), v.ToJson(),
            /*route_changes=*/true};
  }
};

}  // namespace

const RolloutStrategy& CanaryStrategy() {
  static const Canary kCanary;
  return kCanary;
}

}  // namespace rollout::control
