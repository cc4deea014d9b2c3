// Shadow: the candidate gets a mirrored share of the calls, its answers are compared and
// never returned, and each interval judges the shadow calls (errors, agreement, latency).
// Promotion (by a person) starts a canary of the candidate.
#include "absl/strings/str_cat.h"
#include "rollout/strategy.h"

namespace rollout::control {
namespace {

class Shadow final : public RolloutStrategy {
 public:
  std::string Describe(const Release& r) const override {
    return absl::StrCat(r.spec.candidate, " mirrored ", Percent(r.spec.mirror_percent),
                        ", its answers compared, never returned");
  }

  void Shape(const Release& r, RouteOverride* change) const override {
    change->mirror_pool = r.spec.candidate;
    change->mirror_percent = r.spec.mirror_percent;
  }

  Move Analyse(Release* next, const absl::StatusOr<PoolStats>& candidate,
               const absl::StatusOr<PoolStats>& stable, absl::Time /*now*/) const override {
    const Verdict v = JudgeInterval(next, candidate, stable, /*shadow=*/true);
    if (std::optional<Move> m = HoldOrFail(next, v)) return *m;
    return {DecisionKind::kPass, absl::StrCat("analysis passed: ", v.summary), v.ToJson()};
  }

  std::optional<RolloutSpec> FollowUp(const Release& promoted) const override {
    RolloutSpec canary = promoted.spec;
    canary.strategy = Strategy::kCanary;
    canary.mirror_percent = 0;
    return canary;
  }
};

}  // namespace

const RolloutStrategy& ShadowStrategy() {
  static const Shadow kShadow;
  return kShadow;
}

}  // namespace rollout::control
