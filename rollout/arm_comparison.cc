#include <cmath>

#include "absl/strings/str_format.h"
#include "rollout/analysis.h"

namespace rollout::control {
namespace {

// P(|Z| >= |z|) for a standard normal Z.
double TwoSidedP(double z) { return std::erfc(std::fabs(z) / std::sqrt(2.0)); }

}  // namespace

nlohmann::json ArmComparison::ToJson() const {
  return {{"stable_requests", stable_requests},
          {"candidate_requests", candidate_requests},
          {"stable_error_rate", stable_error_rate},
          {"candidate_error_rate", candidate_error_rate},
          {"error_rate_difference", error_rate_difference},
          {"error_cohens_h", error_cohens_h},
          {"error_test", "two-proportion z-test"},
          {"error_p_value", error_p_value},
          {"stable_p50_seconds", stable_p50},
          {"candidate_p50_seconds", candidate_p50},
          {"stable_p99_seconds", stable_p99},
          {"candidate_p99_seconds", candidate_p99},
          {"latency_test", "Mann-Whitney U (ties corrected, normal approximation)"},
          {"latency_p_value", latency_p_value},
          {"latency_rank_biserial", latency_effect},
          {"candidate_worse", candidate_worse},
          {"candidate_better", candidate_better},
          {"summary", summary}};
}

ArmComparison CompareArms(const PoolStats& stable, const PoolStats& candidate, double alpha) {
  ArmComparison c;
  c.stable_requests = stable.requests;
  c.candidate_requests = candidate.requests;
  c.stable_error_rate = stable.ErrorRate();
  c.candidate_error_rate = candidate.ErrorRate();
  c.error_rate_difference = c.candidate_error_rate - c.stable_error_rate;
  c.error_cohens_h = 2 * std::asin(std::sqrt(c.candidate_error_rate)) -
                     2 * std::asin(std::sqrt(c.stable_error_rate));
  double error_z = 0;
  if (stable.requests > 0 && candidate.requests > 0) {
    const double n1 = stable.requests, n2 = candidate.requests;
    const double pooled = double(stable.server_errors + candidate.server_errors) / (n1 + n2);
    const double se = std::sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
    if (se > 0) {
      error_z = c.error_rate_difference / se;
      c.error_p_value = TwoSidedP(error_z);
    }
  }
  c.stable_p50 = HistogramQuantile(stable.latency, 0.5).value_or(0);
  c.candidate_p50 = HistogramQuantile(candidate.latency, 0.5).value_or(0);
  c.stable_p99 = HistogramQuantile(stable.latency, 0.99).value_or(0);
  c.candidate_p99 = HistogramQuantile(candidate.latency, 0.99).value_or(0);

  // Mann-Whitney U over binned latencies: values in one bin are ties.
  double latency_z = 0;
  {
    double n1 = 0, n2 = 0, u = 0, ties = 0;  // u: pairs where the candidate is slower
    for (const AlignedBin& bin : Align(stable.latency, candidate.latency)) {
      const double a = bin.b, b = bin.a;  // a: candidate, b: stable
      u += a * (n1 + 0.5 * b);            // n1: stable values in lower bins so far
      n1 += b;
      n2 += a;
      const double t = a + b;
      ties += t * t * t - t;
    }
    const double n = n1 + n2;
    if (n1 > 0 && n2 > 0 && n > 1) {
      const double variance = n1 * n2 / 12.0 * ((n + 1) - ties / (n * (n - 1)));
      if (variance > 0) {
        latency_z = (u - n1 * n2 / 2) / std::sqrt(variance);
        c.latency_p_value = TwoSidedP(latency_z);
      }
      c.latency_effect = 2 * u / (n1 * n2) - 1;
    }
  }
  const bool more_errors = error_z > 0 && c.error_p_value < alpha;
  const bool fewer_errors = error_z < 0 && c.error_p_value < alpha;
  const bool slower = latency_z > 0 && c.latency_p_value < alpha;
  const bool faster = latency_z < 0 && c.latency_p_value < alpha;
  c.candidate_worse = more_errors || slower;
  c.candidate_better = !c.candidate_worse && (fewer_errors || faster);
  c.summary = absl::StrFormat(
      "errors: stable %s of %d, candidate %s of %d (diff %+.3f%%, h=%.3f, z-test p=%.3g); "
      "latency: p50 %s vs %s, p99 %s vs %s (Mann-Whitney p=%.3g, r=%+.3f); verdict: %s",
      Pct(c.stable_error_rate), c.stable_requests, Pct(c.candidate_error_rate),
      c.candidate_requests, c.error_rate_difference * 100, c.error_cohens_h, c.error_p_value,
      Ms(c.stable_p50), Ms(c.candidate_p50), Ms(c.stable_p99), Ms(c.candidate_p99),
      c.latency_p_value, c.latency_effect,
      c.candidate_worse    ? "candidate significantly worse"
      : c.candidate_better ? "candidate significantly better"
                           : "no significant difference");
  return c;
}

}  // namespace rollout::control
