// Always-valid statistics: tests that may be looked at after every analysis interval, as
// a rollout does, without the looks inflating the chance of a false alarm.
//
// Each function gives an Evidence: the estimate, a confidence sequence (an interval that
// holds at every look at once with probability at least 1 - alpha, however many looks
// there are and whenever one stops) and the always-valid p-value of the hypothesis that
// the quantity is within its bound. A threshold is broken, for analysis, only when that
// p-value is at most alpha: the whole interval lies beyond the bound.
//
//   ProportionEvidence  - k events in n calls against "rate <= bound": Robbins' mixture
//                         of binomial likelihood ratios over a uniform prior (exact for
//                         every n, no normal approximation, so valid with few calls).
//   DifferenceEvidence  - the difference of two rates against "difference <= margin":
//                         the mixture SPRT (mSPRT) of Johari et al. with a normal mixture
//                         of width kDifferenceMixture and the variance plugged in.
//   QuantileUpperBound  - an always-valid upper bound on a quantile of the distribution a
//                         histogram was drawn from, through ProportionEvidence.
//
// Thread-safety: pure functions.
#ifndef ROLLOUT_ROLLOUT_SEQUENTIAL_H_
#define ROLLOUT_ROLLOUT_SEQUENTIAL_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "rollout/pool_stats.h"

namespace rollout::control {

struct Evidence {
  double estimate = 0;
  double low = 0, high = 1;  // the always-valid interval at level 1 - alpha
  double p_value = 1;        // of "within the bound"; 1 when the estimate is within it
  double alpha = 0;          // the level it was judged at
  // Whether the bound is broken beyond doubt: p_value <= alpha.
  bool Significant() const { return p_value <= alpha; }
  nlohmann::json ToJson() const;
};

// The prior standard deviation of a difference of rates for DifferenceEvidence: it is
// most sensitive to differences of about this size (one percentage point).
inline constexpr double kDifferenceMixture = 0.01;

// `events` of `n` calls, against the hypothesis that their rate is at most `bound`.
Evidence ProportionEvidence(uint64_t events, uint64_t n, double bound, double alpha);

// The half-width of DifferenceEvidence's interval for a difference whose estimate has
// variance `variance`, at `alpha`.
double DifferenceHalfWidth(double variance, double alpha);

// events_a/n_a - events_b/n_b, against the hypothesis that it is at most `margin`.
Evidence DifferenceEvidence(uint64_t events_a, uint64_t n_a, uint64_t events_b, uint64_t n_b,
                            double margin, double alpha);

// The values in `h` above `x` (linear within the bucket that holds x), rounded down.
uint64_t CountAbove(const Histogram& h, double x);

// The smallest bucket bound that the q-quantile of `h`'s distribution is at most, with
// probability 1 - alpha at every look; nullopt when there are too few values to say.
std::optional<double> QuantileUpperBound(const Histogram& h, double q, double alpha);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_SEQUENTIAL_H_
