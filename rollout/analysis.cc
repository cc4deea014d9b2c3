#include "rollout/analysis.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace rollout::control {
namespace {

// The quantile every latency threshold is on, and the share of calls above it that a
// threshold on it allows.
constexpr double kQuantile = 0.99;
constexpr double kTail = 1 - kQuantile;

// "(always-valid interval 1.20%-3.40%, p=0.0012)" for a rate's evidence.
std::string Because(const Evidence& e, absl::string_view what) {
  return absl::StrFormat("(%s%salways-valid %.4g%% interval %s-%s, p=%.2g)", what,
                         what.empty() ? "" : ": ", (1 - e.alpha) * 100, Pct(e.low), Pct(e.high),
                         e.p_value);
}

void AddCheck(Verdict* v, Check c, std::string text, absl::string_view evidence_of = "") {
  c.ok = c.measured <= c.threshold;
  absl::StrAppend(&v->summary, v->summary.empty() ? "" : "; ", text);
  if (c.ok) {
    absl::StrAppend(&v->summary, " ok");
  } else {
    absl::StrAppend(&v->summary, c.Broken() ? " FAIL" : " above, not yet beyond doubt");
    if (c.evidence.has_value())
      absl::StrAppend(&v->summary, " ", Because(*c.evidence, evidence_of));
  }
  v->checks.push_back(std::move(c));
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

// Fail if a check is broken; otherwise hold (a check could not be made), saying why.
Verdict HoldUnlessFailed(Verdict v) {
  for (const Check& c : v.checks) {
    if (c.Broken()) {
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
    if (c.Broken()) {
      v->outcome = Outcome::kFail;
      return;
    }
    if (!c.ok) v->outcome = Outcome::kHold;
  }
  if (v->checks.empty()) Note(v, "no threshold set");
  if (v->outcome == Outcome::kHold) v->summary = "hold: " + v->summary;
}

// The calls of `h` above `limit`, against the share a p99 of at most `limit` allows; unset
// when there is no histogram to count in.
std::optional<Evidence> TailEvidence(const Histogram& h, double limit, double alpha) {
  if (h.empty()) return std::nullopt;
  return ProportionEvidence(CountAbove(h, limit), HistogramCount(h), kTail, alpha);
}

// One latency distribution's checks: its p99 against a limit, and against the stable
// pool's p99 times a ratio.
struct Latency {
  const char* name;     // of the checks: name + "_seconds", name + "_ratio"
  const char* what;     // for people
  const char* missing;  // why there is no data, for people
  const std::optional<double>& candidate_p99;
  const Histogram& candidate;
  const std::optional<double>& stable_p99;
  const Histogram& stable;
  const std::optional<double>& max;
  const std::optional<double>& ratio;
};

// False when a check is asked for and the candidate has no such data (the verdict holds
// unless another check failed).
bool AddLatencyChecks(const Latency& m, uint64_t stable_calls, bool stable_enough, double alpha,
                      Verdict* v) {
  if (!m.max.has_value() && !m.ratio.has_value()) return true;
  if (!m.candidate_p99.has_value()) {
    Note(v, m.missing);
    return false;
  }
  const double c = *m.candidate_p99;
  if (m.max.has_value()) {
    AddCheck(v,
             {absl::StrCat(m.name, "_seconds"), c, *m.max, true,
              TailEvidence(m.candidate, *m.max, alpha)},
             absl::StrCat(m.what, " ", Ms(c), " vs max ", Ms(*m.max)),
             absl::StrCat("calls above ", Ms(*m.max)));
  }
  if (!m.ratio.has_value()) return true;
  if (!stable_enough || !m.stable_p99.has_value() || *m.stable_p99 <= 0) {
    Note(v, absl::StrCat(m.what, " ratio not checked: stable answered ", stable_calls, " calls"));
    return true;
  }
  // Broken beyond doubt when the candidate's tail is beyond the ratio times a p99 that
  // stable's is below beyond doubt: each at half of alpha.
  std::optional<Evidence> evidence;
  std::string limit_text;
  if (!m.candidate.empty()) {
    std::optional<double> stable_bound = QuantileUpperBound(m.stable, kQuantile, alpha / 2);
    const double limit = stable_bound.value_or(INFINITY) * *m.ratio;
    evidence = std::isfinite(limit) ? TailEvidence(m.candidate, limit, alpha / 2)
                                    : Evidence{0, 0, 1, 1, alpha / 2};
    limit_text = std::isfinite(limit) ? absl::StrCat("calls above ", Ms(limit))
                                      : "stable's p99 not yet bounded";
  }
  AddCheck(v,
           {absl::StrCat(m.name, "_ratio"), c / *m.stable_p99, *m.ratio, true, std::move(evidence)},
           absl::StrFormat("%s %s vs stable %s: ratio %.2f vs max %.2f", m.what, Ms(c),
                           Ms(*m.stable_p99), c / *m.stable_p99, *m.ratio),
           limit_text);
  return true;
}

int ThresholdsSet(const AnalysisSpec& s) {
  int n = 0;
  for (const std::optional<double>* t :
       {&s.max_error_rate, &s.max_error_rate_increase, &s.max_p99_seconds, &s.max_p99_ratio,
        &s.max_mismatch_rate, &s.max_first_message_p99_seconds, &s.max_first_message_p99_ratio,
        &s.max_message_gap_p99_seconds, &s.max_message_gap_p99_ratio}) {
    n += t->has_value() ? 1 : 0;
  }
  return std::max(n, 1);
}

// The candidate's mirrored answers that disagreed, against max_mismatch_rate.
void AddMismatchCheck(const AnalysisSpec& spec, const PoolStats& candidate, double alpha,
                      Verdict* v) {
  const uint64_t compared = candidate.mirror_match + candidate.mirror_mismatch;
  const double rate = compared == 0 ? 0.0 : double(candidate.mirror_mismatch) / compared;
  AddCheck(
      v,
      {"mismatch_rate", rate, *spec.max_mismatch_rate, true,
       ProportionEvidence(candidate.mirror_mismatch, compared, *spec.max_mismatch_rate, alpha)},
      absl::StrCat("shadow mismatch ", Pct(rate), " (", candidate.mirror_mismatch, "/", compared,
                   ") vs max ", Pct(*spec.max_mismatch_rate)));
}

}  // namespace

std::string Ms(double seconds) { return absl::StrFormat("%.2fms", seconds * 1000); }
std::string Pct(double fraction) { return absl::StrFormat("%.2f%%", fraction * 100); }

nlohmann::json Verdict::ToJson() const {
  nlohmann::json checks_json = nlohmann::json::array();
  for (const Check& c : checks) {
    nlohmann::json check = {
        {"name", c.name}, {"measured", c.measured}, {"threshold", c.threshold}, {"ok", c.ok}};
    if (c.evidence.has_value()) check["evidence"] = c.evidence->ToJson();
    checks_json.push_back(std::move(check));
  }
  nlohmann::json j = {
      {"outcome", OutcomeName(outcome)}, {"checks", checks_json}, {"summary", summary}};
  if (!windows.is_null()) j["windows"] = windows;
  return j;
}

Verdict Judge(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable,
              double alpha) {
  if (candidate.requests < spec.min_requests) {
    return Hold(absl::StrCat("hold: candidate answered ", candidate.requests,
                             " calls at this step, below min_requests ", spec.min_requests));
  }
  Verdict v;
  const double each = alpha / ThresholdsSet(spec);
  const bool stable_enough = stable.requests >= spec.min_requests;
  if (spec.max_error_rate.has_value()) {
    AddCheck(&v,
             {"error_rate", candidate.ErrorRate(), *spec.max_error_rate, true,
              ProportionEvidence(candidate.server_errors, candidate.requests, *spec.max_error_rate,
                                 each)},
             absl::StrCat("error rate ", Pct(candidate.ErrorRate()), " (", candidate.server_errors,
                          "/", candidate.requests, ") vs max ", Pct(*spec.max_error_rate)));
  }
  if (spec.max_error_rate_increase.has_value()) {
    if (stable_enough) {
      const double increase = candidate.ErrorRate() - stable.ErrorRate();
      AddCheck(
          &v,
          {"error_rate_increase", increase, *spec.max_error_rate_increase, true,
           DifferenceEvidence(candidate.server_errors, candidate.requests, stable.server_errors,
                              stable.requests, *spec.max_error_rate_increase, each)},
          absl::StrCat("error rate ", Pct(candidate.ErrorRate()), " vs stable ",
                       Pct(stable.ErrorRate()), ": +", Pct(increase), " vs max +",
                       Pct(*spec.max_error_rate_increase)));
    } else {
      Note(&v, absl::StrCat("error-rate increase not checked: stable answered ", stable.requests,
                            " calls"));
    }
  }
  bool complete = true;
  for (const Latency& m :
       {Latency{"p99", "p99", "no latency data for the candidate (the metric source returned none)",
                candidate.p99_seconds, candidate.latency, stable.p99_seconds, stable.latency,
                spec.max_p99_seconds, spec.max_p99_ratio},
        Latency{"first_message_p99", "first message p99",
                "no first message p99 data for the candidate (no response message timed)",
                candidate.first_message_p99_seconds, candidate.first_message_latency,
                stable.first_message_p99_seconds, stable.first_message_latency,
                spec.max_first_message_p99_seconds, spec.max_first_message_p99_ratio},
        Latency{"message_gap_p99", "message gap p99",
                "no message gap p99 data for the candidate (no response message timed)",
                candidate.message_gap_p99_seconds, candidate.message_gap_latency,
                stable.message_gap_p99_seconds, stable.message_gap_latency,
                spec.max_message_gap_p99_seconds, spec.max_message_gap_p99_ratio}}) {
    complete = AddLatencyChecks(m, stable.requests, stable_enough, each, &v) && complete;
  }
  if (!complete) return HoldUnlessFailed(std::move(v));
  if (spec.max_mismatch_rate.has_value()) {
    const uint64_t compared = candidate.mirror_match + candidate.mirror_mismatch;
    if (compared >= spec.min_requests) {
      AddMismatchCheck(spec, candidate, each, &v);
    } else {
      Note(&v, absl::StrCat("mismatch rate not checked: ", compared, " shadow answers compared"));
    }
  }
  Conclude(&v);
  return v;
}

Verdict JudgeShadow(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable,
                    double alpha) {
  const uint64_t total = candidate.MirrorTotal();
  if (total < spec.min_requests) {
    return Hold(absl::StrCat("hold: ", total, " shadow calls concluded so far, below ",
                             "min_requests ", spec.min_requests));
  }
  Verdict v;
  const double each = alpha / ThresholdsSet(spec);
  const double error_rate = double(candidate.mirror_errors) / total;
  if (spec.max_error_rate.has_value()) {
    AddCheck(&v,
             {"shadow_error_rate", error_rate, *spec.max_error_rate, true,
              ProportionEvidence(candidate.mirror_errors, total, *spec.max_error_rate, each)},
             absl::StrCat("shadow error rate ", Pct(error_rate), " (", candidate.mirror_errors, "/",
                          total, ") vs max ", Pct(*spec.max_error_rate)));
  }
  if (spec.max_mismatch_rate.has_value()) {
    AddMismatchCheck(spec, candidate, each, &v);
  } else {
    const uint64_t compared = candidate.mirror_match + candidate.mirror_mismatch;
    const double mismatch = compared == 0 ? 0.0 : double(candidate.mirror_mismatch) / compared;
    Note(&v, absl::StrCat("agreement ", Pct(1 - mismatch), " of ", compared, " answers"));
  }
  const Latency shadow{"shadow_p99",
                       "shadow p99",
                       "no shadow latency data (the metric source returned none)",
                       candidate.mirror_p99_seconds,
                       candidate.mirror_latency,
                       stable.p99_seconds,
                       stable.latency,
                       spec.max_p99_seconds,
                       spec.max_p99_ratio};
  if (!AddLatencyChecks(shadow, stable.requests, stable.requests >= spec.min_requests, each, &v)) {
    return HoldUnlessFailed(std::move(v));
  }
  Conclude(&v);
  return v;
}

}  // namespace rollout::control
