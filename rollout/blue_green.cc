// Blue-green: the candidate waits in preview at 0% (reachable with kPreviewHeader, and
// judged on its shadow calls when it is mirrored), then takes 100% in one switch. The stable
// pool stays warm through the rollback window, when an abort flips back at once; the
// window's end promotes.
#include "absl/strings/str_cat.h"
#include "rollout/strategy.h"

namespace rollout::control {
namespace {

class BlueGreen final : public RolloutStrategy {
 public:
  std::string Describe(const Release& r) const override {
    return absl::StrCat(r.spec.candidate, " in preview at 0%, reachable with ", kPreviewHeader,
                        ": ", r.spec.candidate,
                        r.spec.mirror_percent > 0
                            ? absl::StrCat(" and mirrored ", Percent(r.spec.mirror_percent))
                            : "");
  }

  void Shape(const Release& r, RouteOverride* change) const override {
    change->override_header = kPreviewHeader;  // used only when the route has none
    if (Previewing(r) && r.spec.mirror_percent > 0) {
      change->mirror_pool = r.spec.candidate;
      change->mirror_percent = r.spec.mirror_percent;
    }
  }

  Move Analyse(Release* next, const absl::StatusOr<PoolStats>& candidate,
               const absl::StatusOr<PoolStats>& stable, absl::Time now) const override {
    if (next->phase == Phase::kRollbackWindow && now >= next->deadline) {
      return {
          DecisionKind::kPromote,
          absl::StrCat("promoted: the rollback window of ",
                       absl::FormatDuration(next->spec.rollback_window), " passed with no abort"),
          {}};
    }
    const bool shadow = Previewing(*next) && next->spec.mirror_percent > 0;
    const Verdict v = JudgeInterval(next, candidate, stable, shadow);
    if (std::optional<Move> m = HoldOrFail(next, v)) return *m;
    if (!Previewing(*next)) {
      return {DecisionKind::kPass, absl::StrCat("analysis passed: ", v.summary), v.ToJson()};
    }
    next->step = 1;
    next->phase = Phase::kRollbackWindow;
    next->deadline = now + next->spec.rollback_window;
    if (next->spec.rollback_window <= absl::ZeroDuration()) {
      return {DecisionKind::kPromote, absl::StrCat("analysis passed: ", v.summary, "; switched"),
              v.ToJson()};
    }
    return {DecisionKind::kSwitch,
            absl::StrCat("analysis passed: ", v.summary, "; switched: ", next->spec.candidate,
                         " takes 100%, ", next->spec.stable,
                         " stays warm for instant rollback until ", Rfc3339(next->deadline)),
            v.ToJson(), /*route_changes=*/true};
  }

 private:
  static bool Previewing(const Release& r) { return r.step == 0; }
};

}  // namespace

const RolloutStrategy& BlueGreenStrategy() {
  static const BlueGreen kBlueGreen;
  return kBlueGreen;
}

}  // namespace rollout::control
