// Rollback: the route back to what an earlier release left serving, in one step. It is
// recorded as a release (so the history and the audit log show it, with its reason), but
// it is promoted the moment it is made: there is nothing to analyse.
#include "absl/strings/str_cat.h"
#include "rollout/strategy.h"

namespace rollout::control {
namespace {

class Rollback final : public RolloutStrategy {
 public:
  std::string Describe(const Release& r) const override {
    return absl::StrCat(r.spec.CandidateName(), " takes 100% at once");
  }
  Move Analyse(Release*, const absl::StatusOr<PoolStats>&, const absl::StatusOr<PoolStats>&,
               absl::Time) const override {
    return {DecisionKind::kPromote, "rolled back", {}};  // never due: it ends when made
  }
};

}  // namespace

const RolloutStrategy& RollbackStrategy() {
  static const Rollback kRollback;
  return kRollback;
}

}  // namespace rollout::control
