#include "rollout/analysis.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace rollout::control {
namespace {

// P(|Z| >= |z|) for a standard normal Z.
double TwoSidedP(double z) { return std::erfc(std::fabs(z) / std::sqrt(2.0)); }

std::string Pct(double fraction) { return absl::StrFormat("%.2f%%", fraction * 100); }

void AddCheck(Verdict* v, std::string name, double measured, double threshold, std::string text) {
  const bool ok = measured <= threshold;
  v->checks.push_back({std::move(name), measured, threshold, ok});
  absl::StrAppend(&v->summary, v->summary.empty() ? "" : "; ", text, ok ? " ok" : " FAIL");
}

void Note(Verdict* v, absl::string_view text) {
  absl::StrAppend(&v->summary, v->summary.empty() ? "" : "; ", text);
}

Verdict Hold(std::string why) {
  Verdict v;
  v.outcome = Outcome::kHold;
  v.summary = std::move(why);
  return v;
}

// Fail if a check failed; otherwise hold (a check could not be made), saying why.
Verdict HoldUnlessFailed(Verdict v) {
  for (const Check& c : v.checks) {
    if (!c.ok) {
      v.outcome = Outcome::kFail;
      return v;
    }
  }
  v.outcome = Outcome::kHold;
  v.summary = "hold: " + v.summary;
  return v;
}

void Conclude(Verdict* v) {
  v->outcome = Outcome::kPass;
  for (const Check& c : v->checks) {
    if (!c.ok) v->outcome = Outcome::kFail;
  }
  if (v->checks.empty()) Note(v, "no threshold set");
}

// The response messages' checks: the time to the first message and the gaps after it,
// absolute and against stable. False when a check is asked for and the candidate has no
// such data (the verdict holds unless another check failed).
bool AddStreamChecks(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable,
                     bool stable_enough, Verdict* v) {
  struct Metric {
    const char* name;  // of the checks
    const char* what;  // for people
    std::optional<double> PoolStats::*p99;
    const std::optional<double>* max;
    const std::optional<double>* ratio;
  };
  bool complete = true;
  for (const Metric& m :
       {Metric{"first_message_p99", "first message p99", &PoolStats::first_message_p99_seconds,
               &spec.max_first_message_p99_seconds, &spec.max_first_message_p99_ratio},
        Metric{"message_gap_p99", "message gap p99", &PoolStats::message_gap_p99_seconds,
               &spec.max_message_gap_p99_seconds, &spec.max_message_gap_p99_ratio}}) {
    if (!m.max->has_value() && !m.ratio->has_value()) continue;
    const std::optional<double>& c = candidate.*m.p99;
    if (!c.has_value()) {
      Note(v, absl::StrCat("no ", m.what, " data for the candidate (no response message timed)"));
      complete = false;
      continue;
    }
    if (m.max->has_value()) {
      AddCheck(v, absl::StrCat(m.name, "_seconds"), *c, **m.max,
               absl::StrCat(m.what, " ", Ms(*c), " vs max ", Ms(**m.max)));
    }
    if (!m.ratio->has_value()) continue;
    const std::optional<double>& s = stable.*m.p99;
    if (stable_enough && s.has_value() && *s > 0) {
      AddCheck(v, absl::StrCat(m.name, "_ratio"), *c / *s, **m.ratio,
               absl::StrFormat("%s %s vs stable %s: ratio %.2f vs max %.2f", m.what, Ms(*c), Ms(*s),
                               *c / *s, **m.ratio));
    } else {
      Note(v,
           absl::StrCat(m.what, " ratio not checked: stable answered ", stable.requests, " calls"));
    }
  }
  return complete;
}

}  // namespace

std::string Ms(double seconds) { return absl::StrFormat("%.2fms", seconds * 1000); }

namespace {

// The two histograms over the union of their bounds: (bound, count in a, count in b).
struct AlignedBin {
  double bound;
  uint64_t a, b;
};
std::vector<AlignedBin> Align(const std::vector<std::pair<double, uint64_t>>& a,
                              const std::vector<std::pair<double, uint64_t>>& b) {
  std::vector<AlignedBin> out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      out.push_back({a[i].first, a[i].second, 0});
      ++i;
    } else if (i == a.size() || b[j].first < a[i].first) {
      out.push_back({b[j].first, 0, b[j].second});
      ++j;
    } else {
      out.push_back({a[i].first, a[i].second, b[j].second});
      ++i;
      ++j;
    }
  }
  return out;
}

}  // namespace

void PoolStats::Add(const PoolStats& other) {
  requests += other.requests;
  server_errors += other.server_errors;
  mirror_match += other.mirror_match;
  mirror_mismatch += other.mirror_mismatch;
  mirror_errors += other.mirror_errors;
  replicas = std::max(replicas, other.replicas);
  std::vector<std::pair<double, uint64_t>> merged;
  for (const AlignedBin& bin : Align(latency, other.latency)) {
    merged.emplace_back(bin.bound, bin.a + bin.b);
  }
  latency = std::move(merged);
  p99_seconds = HistogramQuantile(latency, 0.99);
  if (!p99_seconds.has_value()) p99_seconds = other.p99_seconds;
  // No histogram is kept of these: the later window's stand.
  if (other.first_message_p99_seconds.has_value()) {
    first_message_p99_seconds = other.first_message_p99_seconds;
  }
  if (other.message_gap_p99_seconds.has_value()) {
    message_gap_p99_seconds = other.message_gap_p99_seconds;
  }
}

nlohmann::json PoolStats::ToJson() const {
  nlohmann::json j = {{"requests", requests},
                      {"server_errors", server_errors},
                      {"error_rate", ErrorRate()},
                      {"mirror_match", mirror_match},
                      {"mirror_mismatch", mirror_mismatch},
                      {"mirror_errors", mirror_errors}};
  if (p99_seconds.has_value()) j["p99_seconds"] = *p99_seconds;
  if (mirror_p99_seconds.has_value()) j["mirror_p99_seconds"] = *mirror_p99_seconds;
  if (first_message_p99_seconds.has_value()) {
    j["first_message_p99_seconds"] = *first_message_p99_seconds;
  }
  if (message_gap_p99_seconds.has_value()) j["message_gap_p99_seconds"] = *message_gap_p99_seconds;
  if (!latency.empty()) j["latency"] = latency;
  if (replicas > 0) j["replicas"] = replicas;
  return j;
}

PoolStats PoolStats::FromJson(const nlohmann::json& j) {
  PoolStats s;
  s.requests = j.value("requests", uint64_t{0});
  s.server_errors = j.value("server_errors", uint64_t{0});
  s.mirror_match = j.value("mirror_match", uint64_t{0});
  s.mirror_mismatch = j.value("mirror_mismatch", uint64_t{0});
  s.mirror_errors = j.value("mirror_errors", uint64_t{0});
  if (j.contains("p99_seconds")) s.p99_seconds = j["p99_seconds"].get<double>();
  if (j.contains("first_message_p99_seconds")) {
    s.first_message_p99_seconds = j["first_message_p99_seconds"].get<double>();
  }
  if (j.contains("message_gap_p99_seconds")) {
    s.message_gap_p99_seconds = j["message_gap_p99_seconds"].get<double>();
  }
  s.replicas = j.value("replicas", 0);
  if (j.contains("latency")) {
    s.latency = j["latency"].get<std::vector<std::pair<double, uint64_t>>>();
  }
  return s;
}

std::optional<double> HistogramQuantile(const std::vector<std::pair<double, uint64_t>>& h,
                                        double q) {
  uint64_t count = 0;
  for (const auto& [bound, n] : h) count += n;
  if (count == 0) return std::nullopt;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count)));
  uint64_t seen = 0;
  double lower = 0;
  for (const auto& [bound, n] : h) {
    if (seen + n >= rank && n > 0) {
      if (!std::isfinite(bound)) return lower;  // +Inf bucket: its lower bound, as Prometheus
      // Linear within the bucket, as Prometheus' histogram_quantile does.
      return lower + (bound - lower) * static_cast<double>(rank - seen) / n;
    }
    seen += n;
    lower = bound;
  }
  return lower;
}

nlohmann::json Verdict::ToJson() const {
  nlohmann::json checks_json = nlohmann::json::array();
  for (const Check& c : checks) {
    checks_json.push_back(
        {{"name", c.name}, {"measured", c.measured}, {"threshold", c.threshold}, {"ok", c.ok}});
  }
  nlohmann::json j = {
      {"outcome", OutcomeName(outcome)}, {"checks", checks_json}, {"summary", summary}};
  if (!windows.is_null()) j["windows"] = windows;
  return j;
}

Verdict Judge(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable) {
  if (candidate.requests < spec.min_requests) {
    return Hold(absl::StrCat("hold: candidate answered ", candidate.requests,
                             " calls in the window, below min_requests ", spec.min_requests));
  }
  Verdict v;
  const bool stable_enough = stable.requests >= spec.min_requests;
  if (spec.max_error_rate.has_value()) {
    AddCheck(&v, "error_rate", candidate.ErrorRate(), *spec.max_error_rate,
             absl::StrCat("error rate ", Pct(candidate.ErrorRate()), " (", candidate.server_errors,
                          "/", candidate.requests, ") vs max ", Pct(*spec.max_error_rate)));
  }
  if (spec.max_error_rate_increase.has_value()) {
    if (stable_enough) {
      const double increase = candidate.ErrorRate() - stable.ErrorRate();
      AddCheck(&v, "error_rate_increase", increase, *spec.max_error_rate_increase,
               absl::StrCat("error rate ", Pct(candidate.ErrorRate()), " vs stable ",
                            Pct(stable.ErrorRate()), ": +", Pct(increase), " vs max +",
                            Pct(*spec.max_error_rate_increase)));
    } else {
      Note(&v, absl::StrCat("error-rate increase not checked: stable answered ", stable.requests,
                            " calls"));
    }
  }
  const bool wants_p99 = spec.max_p99_seconds.has_value() || spec.max_p99_ratio.has_value();
  if (wants_p99 && !candidate.p99_seconds.has_value()) {
    // A failed check still fails; otherwise the missing latency makes it a hold.
    Note(&v, "no latency data for the candidate (the metric source returned none)");
    return HoldUnlessFailed(std::move(v));
  }
  if (spec.max_p99_seconds.has_value()) {
    AddCheck(
        &v, "p99_seconds", *candidate.p99_seconds, *spec.max_p99_seconds,
        absl::StrCat("p99 ", Ms(*candidate.p99_seconds), " vs max ", Ms(*spec.max_p99_seconds)));
  }
  if (spec.max_p99_ratio.has_value()) {
    if (stable_enough && stable.p99_seconds.has_value() && *stable.p99_seconds > 0) {
      const double ratio = *candidate.p99_seconds / *stable.p99_seconds;
      AddCheck(
          &v, "p99_ratio", ratio, *spec.max_p99_ratio,
          absl::StrFormat("p99 %s vs stable %s: ratio %.2f vs max %.2f", Ms(*candidate.p99_seconds),
                          Ms(*stable.p99_seconds), ratio, *spec.max_p99_ratio));
    } else {
      Note(&v, absl::StrCat("p99 ratio not checked: stable answered ", stable.requests, " calls"));
    }
  }
  if (!AddStreamChecks(spec, candidate, stable, stable_enough, &v)) {
    return HoldUnlessFailed(std::move(v));
  }
  if (spec.max_mismatch_rate.has_value()) {
    const uint64_t compared = candidate.mirror_match + candidate.mirror_mismatch;
    if (compared >= spec.min_requests) {
      const double rate = double(candidate.mirror_mismatch) / compared;
      AddCheck(&v, "mismatch_rate", rate, *spec.max_mismatch_rate,
               absl::StrCat("shadow mismatch ", Pct(rate), " (", candidate.mirror_mismatch, "/",
                            compared, ") vs max ", Pct(*spec.max_mismatch_rate)));
    } else {
      Note(&v, absl::StrCat("mismatch rate not checked: ", compared, " shadow answers compared"));
    }
  }
  Conclude(&v);
  return v;
}

Verdict JudgeShadow(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable) {
  const uint64_t total = candidate.MirrorTotal();
  if (total < spec.min_requests) {
    return Hold(absl::StrCat("hold: ", total, " shadow calls concluded in the window, below ",
                             "min_requests ", spec.min_requests));
  }
  Verdict v;
  const double error_rate = double(candidate.mirror_errors) / total;
  if (spec.max_error_rate.has_value()) {
    AddCheck(&v, "shadow_error_rate", error_rate, *spec.max_error_rate,
             absl::StrCat("shadow error rate ", Pct(error_rate), " (", candidate.mirror_errors, "/",
                          total, ") vs max ", Pct(*spec.max_error_rate)));
  }
  const uint64_t compared = candidate.mirror_match + candidate.mirror_mismatch;
  const double mismatch = compared == 0 ? 0.0 : double(candidate.mirror_mismatch) / compared;
  if (spec.max_mismatch_rate.has_value()) {
    AddCheck(&v, "mismatch_rate", mismatch, *spec.max_mismatch_rate,
             absl::StrCat("shadow mismatch ", Pct(mismatch), " (", candidate.mirror_mismatch, "/",
                          compared, ") vs max ", Pct(*spec.max_mismatch_rate)));
  } else {
    Note(&v, absl::StrCat("agreement ", Pct(1 - mismatch), " of ", compared, " answers"));
  }
  if (spec.max_p99_seconds.has_value() || spec.max_p99_ratio.has_value()) {
    if (!candidate.mirror_p99_seconds.has_value()) {
      Note(&v, "no shadow latency data (the metric source returned none)");
      return HoldUnlessFailed(std::move(v));
    }
    const double p99 = *candidate.mirror_p99_seconds;
    if (spec.max_p99_seconds.has_value()) {
      AddCheck(&v, "shadow_p99_seconds", p99, *spec.max_p99_seconds,
               absl::StrCat("shadow p99 ", Ms(p99), " vs max ", Ms(*spec.max_p99_seconds)));
    }
    if (spec.max_p99_ratio.has_value()) {
      if (stable.requests >= spec.min_requests && stable.p99_seconds.has_value() &&
          *stable.p99_seconds > 0) {
        const double ratio = p99 / *stable.p99_seconds;
        AddCheck(&v, "shadow_p99_ratio", ratio, *spec.max_p99_ratio,
                 absl::StrFormat("shadow p99 %s vs stable %s: ratio %.2f vs max %.2f", Ms(p99),
                                 Ms(*stable.p99_seconds), ratio, *spec.max_p99_ratio));
      } else {
        Note(&v,
             absl::StrCat("p99 ratio not checked: stable answered ", stable.requests, " calls"));
      }
    }
  }
  Conclude(&v);
  return v;
}

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
