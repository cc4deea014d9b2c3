#include "rollout/ab_verdict.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rollout::control {
namespace {

// A difference of rates in points: "+0.25".
std::string Points(double d) { return absl::StrFormat("%+.2f", d * 100); }

// `events_c` of `n_c` against `events_s` of `n_s`, with its margin.
MetricVerdict Compare(std::string metric, uint64_t events_c, uint64_t n_c, uint64_t events_s,
                      uint64_t n_s, double margin, double alpha) {
  MetricVerdict m;
  m.metric = std::move(metric);
  m.margin = margin;
  // Worse by more than the margin: candidate - stable > margin.
  m.difference = DifferenceEvidence(events_c, n_c, events_s, n_s, margin, alpha / 2);
  m.p_inferior = m.difference.p_value;
  // No worse than the margin: stable - candidate > -margin. Better: stable - candidate > 0.
  m.p_non_inferior = DifferenceEvidence(events_s, n_s, events_c, n_c, -margin, alpha).p_value;
  const bool superior =
      DifferenceEvidence(events_s, n_s, events_c, n_c, 0, alpha / 2).Significant();
  if (m.p_inferior <= alpha / 2) {
    m.verdict = ArmVerdict::kInferior;
  } else if (superior) {
    m.verdict = ArmVerdict::kSuperior;
  }
  return m;
}

std::string Describe(const MetricVerdict& m) {
  return absl::StrFormat(
      "%s: %s (%s points, always-valid %.4g%% interval %s to %s, margin %s; p=%.2g that it is "
      "worse by the margin or more)",
      m.metric, ArmVerdictName(m.verdict), Points(m.difference.estimate),
      (1 - m.difference.alpha) * 100, Points(m.difference.low), Points(m.difference.high),
      Points(m.margin), m.p_non_inferior);
}

}  // namespace

const char* ArmVerdictName(ArmVerdict v) {
  switch (v) {
    case ArmVerdict::kInconclusive:
      return "inconclusive";
    case ArmVerdict::kNonInferior:
      return "non-inferior";
    case ArmVerdict::kSuperior:
      return "superior";
    case ArmVerdict::kInferior:
      return "inferior";
  }
  return "?";
}

nlohmann::json MetricVerdict::ToJson() const {
  return {
      {"metric", metric}, {"verdict", ArmVerdictName(verdict)}, {"difference", difference.ToJson()},
      {"margin", margin}, {"p_inferior", p_inferior},           {"p_non_inferior", p_non_inferior}};
}

nlohmann::json AbVerdict::ToJson() const {
  nlohmann::json m = nlohmann::json::array();
  for (const MetricVerdict& v : metrics) m.push_back(v.ToJson());
  return {{"metrics", m},
          {"all_non_inferior", all_non_inferior},
          {"any_inferior", any_inferior},
          {"correction", "Holm across metrics"},
          {"summary", summary}};
}

AbVerdict JudgeArms(const PoolStats& stable, const PoolStats& candidate, double error_margin,
                    double latency_margin, double alpha) {
  AbVerdict v;
  v.metrics.push_back(Compare("errors", candidate.server_errors, candidate.requests,
                              stable.server_errors, stable.requests, error_margin, alpha));
  // Latency: the share of each arm's calls slower than stable's median.
  const std::optional<double> median = HistogramQuantile(stable.latency, 0.5);
  const uint64_t n_c = HistogramCount(candidate.latency), n_s = HistogramCount(stable.latency);
  if (median.has_value() && n_c > 0) {
    v.metrics.push_back(Compare("latency", CountAbove(candidate.latency, *median), n_c,
                                CountAbove(stable.latency, *median), n_s, latency_margin, alpha));
  } else {
    MetricVerdict none;
    none.metric = "latency";
    none.margin = latency_margin;
    v.metrics.push_back(none);
  }
  // Holm's step-down on the non-inferiority p-values: the smallest at alpha / m, the next
  // at alpha / (m - 1), ..., stopping at the first that is not small enough.
  std::vector<MetricVerdict*> order;
  for (MetricVerdict& m : v.metrics) order.push_back(&m);
  std::sort(order.begin(), order.end(),
            [](auto* a, auto* b) { return a->p_non_inferior < b->p_non_inferior; });
  v.all_non_inferior = true;
  for (size_t i = 0; i < order.size(); ++i) {
    MetricVerdict& m = *order[i];
    const bool shown = v.all_non_inferior && m.p_non_inferior <= alpha / (order.size() - i);
    v.all_non_inferior = shown;
    if (shown && m.verdict == ArmVerdict::kInconclusive) m.verdict = ArmVerdict::kNonInferior;
    if (!shown && m.verdict == ArmVerdict::kSuperior) m.verdict = ArmVerdict::kInconclusive;
  }
  for (const MetricVerdict& m : v.metrics) {
    v.any_inferior = v.any_inferior || m.verdict == ArmVerdict::kInferior;
    absl::StrAppend(&v.summary, v.summary.empty() ? "" : "; ", Describe(m));
  }
  return v;
}

uint64_t CallsPerArmFor(double error_rate, double margin, double alpha) {
  const double p = std::clamp(error_rate, 0.001, 0.5);
  auto half = [&](double n) { return DifferenceHalfWidth(2 * p * (1 - p) / n, alpha / 2); };
  if (margin <= 0) return UINT64_MAX;
  double low = 1, high = 2;
  while (half(high) > margin && high < 1e12) high *= 2;
  for (int i = 0; i < 60 && high - low > 1; ++i) {
    const double mid = (low + high) / 2;
    (half(mid) > margin ? low : high) = mid;
  }
  return static_cast<uint64_t>(std::ceil(high));
}

}  // namespace rollout::control
