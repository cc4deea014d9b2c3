#include "rollout/sequential.h"

#include <algorithm>
#include <cmath>

namespace rollout::control {
namespace {

double LogBeta(double a, double b) { return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b); }

// The log of the mixture martingale for "rate = p" after `k` events in `n` calls, with a
// uniform prior over the rate: the marginal likelihood over the likelihood at p.
double LogMixture(uint64_t k, uint64_t n, double p) {
  const double kd = static_cast<double>(k), nd = static_cast<double>(n);
  const double at_p =
      (k == 0 ? 0.0 : kd * std::log(p)) + (k == n ? 0.0 : (nd - kd) * std::log1p(-p));
  return LogBeta(1 + kd, 1 + nd - kd) - at_p;
}

// The rate in [from, to] where the mixture crosses `level`, given that it falls (or rises)
// from one end to the other; 60 halvings are far below any printed precision.
double Crossing(uint64_t k, uint64_t n, double level, double from, double to) {
  for (int i = 0; i < 60; ++i) {
    const double mid = (from + to) / 2;
    if (LogMixture(k, n, mid) >= level) {
      from = mid;
    } else {
      to = mid;
    }
  }
  return (from + to) / 2;
}

}  // namespace

nlohmann::json Evidence::ToJson() const {
  return {{"estimate", estimate}, {"low", low},     {"high", high},
          {"p_value", p_value},   {"alpha", alpha}, {"significant", Significant()}};
}

Evidence ProportionEvidence(uint64_t events, uint64_t n, double bound, double alpha) {
  Evidence e;
  e.alpha = alpha;
  if (n == 0) return e;
  events = std::min(events, n);
  e.estimate = static_cast<double>(events) / n;
  const double level = std::log(1 / alpha);
  constexpr double kEdge = 1e-12;
  // The mixture is smallest at the estimate and grows towards 0 and 1: the interval is
  // where it stays below 1/alpha.
  e.low = events == 0 || LogMixture(events, n, kEdge) < level
              ? 0.0
              : Crossing(events, n, level, kEdge, e.estimate);
  e.high = events == n || LogMixture(events, n, 1 - kEdge) < level
               ? 1.0
               : 1 - Crossing(n - events, n, level, kEdge, 1 - e.estimate);
  if (e.estimate > bound) {
    e.p_value = bound <= 0 ? 0.0 : std::min(1.0, std::exp(-LogMixture(events, n, bound)));
  }
  return e;
}

double DifferenceHalfWidth(double v, double alpha) {
  const double t2 = kDifferenceMixture * kDifferenceMixture;
  return std::sqrt(v * (v + t2) / t2 * (std::log((v + t2) / v) - 2 * std::log(alpha)));
}

Evidence DifferenceEvidence(uint64_t events_a, uint64_t n_a, uint64_t events_b, uint64_t n_b,
                            double margin, double alpha) {
  Evidence e;
  e.alpha = alpha;
  e.low = -1;
  if (n_a == 0 || n_b == 0) return e;
  const double rate_a = static_cast<double>(events_a) / n_a;
  const double rate_b = static_cast<double>(events_b) / n_b;
  e.estimate = rate_a - rate_b;
  // The variance with each rate moved half an event off 0 and 1, so that none is 0.
  auto variance = [](uint64_t k, uint64_t n) {
    const double p = (k + 0.5) / (n + 1.0);
    return p * (1 - p) / n;
  };
  const double v = variance(events_a, n_a) + variance(events_b, n_b);
  const double t2 = kDifferenceMixture * kDifferenceMixture;
  const double half = DifferenceHalfWidth(v, alpha);
  e.low = std::max(-1.0, e.estimate - half);
  e.high = std::min(1.0, e.estimate + half);
  if (e.estimate > margin) {
    const double d = e.estimate - margin;
    const double log_lambda = 0.5 * std::log(v / (v + t2)) + t2 * d * d / (2 * v * (v + t2));
    e.p_value = std::min(1.0, std::exp(-log_lambda));
  }
  return e;
}

uint64_t CountAbove(const Histogram& h, double x) {
  double above = 0, lower = 0;
  for (const auto& [bound, n] : h) {
    if (lower >= x) {
      above += n;
    } else if (bound > x && std::isfinite(bound)) {
      above += n * (bound - x) / (bound - lower);  // part of the bucket that holds x
    }
    lower = bound;
  }
  return static_cast<uint64_t>(std::floor(above + 1e-9));
}

std::optional<double> QuantileUpperBound(const Histogram& h, double q, double alpha) {
  const uint64_t n = HistogramCount(h);
  uint64_t above = n;
  for (const auto& [bound, count] : h) {
    above -= count;
    if (!std::isfinite(bound)) break;
    if (ProportionEvidence(above, n, 1 - q, alpha).high <= 1 - q) return bound;
  }
  return std::nullopt;
}

}  // namespace rollout::control
