// RolloutStrategy: what one strategy (canary, blue_green, ab_test, shadow) does to its route
// and after each analysis interval. The RolloutEngine keeps the records, the lock and the
// commits; a strategy only decides, as a pure function of the release and the windows, so
// each is testable alone. One file per strategy: canary.cc, blue_green.cc, ab_test.cc and
// shadow.cc.
//
//   const RolloutStrategy& s = StrategyOf(release.spec.strategy);
//   Move m = s.Analyse(&next, candidate_window, stable_window, now);
//   // m.kind kPromote or kAbort ends the rollout; any other kind is recorded as a decision,
//   // with the release's route change when m.route_changes.
//
// Thread-safety: the strategies are stateless constants.
#ifndef ROLLOUT_ROLLOUT_STRATEGY_H_
#define ROLLOUT_ROLLOUT_STRATEGY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rollout/analysis.h"
#include "rollout/release.h"
#include "state/state_store.h"

namespace rollout::control {

// What a strategy decided after one interval.
struct Move {
  DecisionKind kind = DecisionKind::kHold;
  std::string detail;  // one line for people
  nlohmann::json data;
  bool route_changes = false;  // the release moved: commit RouteChangeFor(next) with it
};

class RolloutStrategy {
 public:
  virtual ~RolloutStrategy() = default;

  // What the route does while `r` is active, for the start decision.
  virtual std::string Describe(const Release& r) const = 0;
  // Adds the strategy's mirror or header to the route change of an active release.
  virtual void Shape(const Release& /*r*/, RouteOverride* /*change*/) const {}
  // One analysis, with the candidate's and the stable pool's windows: updates `next` (its
  // step, phase, deadline, counters) and says what happens.
  virtual Move Analyse(Release* next, const absl::StatusOr<PoolStats>& candidate,
                       const absl::StatusOr<PoolStats>& stable, absl::Time now) const = 0;
  // The rollout that starts once `promoted` is promoted, if any.
  virtual std::optional<RolloutSpec> FollowUp(const Release& /*promoted*/) const {
    return std::nullopt;
  }
};

const RolloutStrategy& StrategyOf(Strategy s);
const RolloutStrategy& CanaryStrategy();
const RolloutStrategy& BlueGreenStrategy();
const RolloutStrategy& AbTestStrategy();
const RolloutStrategy& ShadowStrategy();
const RolloutStrategy& RollbackStrategy();

// The route change that puts `release` in force: the split for its step, and the mirror
// and override header its strategy needs. Final phases give back the file's mirror.
RouteOverride RouteChangeFor(const Release& release);

// The header that reaches a blue_green candidate in preview.
inline constexpr char kPreviewHeader[] = "x-rollout-pool";

// Adds the windows that could be read to the release's tally of its step, starting a new
// tally when the step changed.
void AddToTally(Release* next, const absl::StatusOr<PoolStats>& candidate,
                const absl::StatusOr<PoolStats>& stable);

// For the strategies that judge every interval against thresholds (canary, blue_green,
// shadow). Adds the windows to the step's tally (a new step starts a new one), then
// judges the tally against the stable pool's, or the shadow calls (`shadow`), at the
// rollout's alpha shared by its steps; a window that could not be read is a hold ("no
// data").
Verdict JudgeInterval(Release* next, const absl::StatusOr<PoolStats>& candidate,
                      const absl::StatusOr<PoolStats>& stable, bool shadow);
// A verdict that did not pass: a hold (phase inconclusive once inconclusive_limit holds
// came in a row), a failure, or an abort once failure_limit failures came in a row.
// nullopt when it passed (the failures and holds in a row start again from 0).
std::optional<Move> HoldOrFail(Release* next, const Verdict& v);

// ab_test: "needs about N calls per arm to tell the error rates apart by the margin (about
// T at R calls/s per arm)", for an error rate, the calls per arm so far and their rate.
std::string AbTestNeeds(const RolloutSpec& spec, double error_rate, uint64_t have,
                        double per_arm_rate);
// The same at the start, from stable's traffic over the last `window` (which has the
// route's calls before the split).
std::string AbTestPlan(const RolloutSpec& spec, const absl::StatusOr<PoolStats>& stable,
                       absl::Duration window);
// The error rate a plan assumes when stable has no traffic to go by.
inline constexpr double kAssumedErrorRate = 0.005;

// "v2 at 5% (step 1/4)".
std::string Where(const Release& r);
std::string Percent(double p);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_STRATEGY_H_
