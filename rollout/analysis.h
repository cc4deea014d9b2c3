// Analysis: judging a candidate pool against the stable pool over one window.
//
// Judge() is a pure function of the two pools' numbers and the thresholds, so every
// decision path is testable without traffic. Its verdict is one of:
//   hold - too little traffic (below min_requests) or no data: neither pass nor fail;
//   pass - every threshold that is set holds;
//   fail - at least one threshold is broken.
// Each check records the measured value against its threshold, for the status, the Watch
// events, the audit log and the release record.
//
// CompareArms() is the A/B verdict over a whole test: a two-proportion z-test on the
// error rates and a Mann-Whitney U test on the latency distributions.
//
// Thread-safety: pure functions.
#ifndef ROLLOUT_ROLLOUT_ANALYSIS_H_
#define ROLLOUT_ROLLOUT_ANALYSIS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/enum_names.h"
#include "config/rollout_spec.h"

namespace rollout::control {

// One pool's traffic over a window, as a metric source reports it.
struct PoolStats {
  uint64_t requests = 0;              // answered calls (client cancels excluded)
  uint64_t server_errors = 0;         // of those, the ones that count against the version
  std::optional<double> p99_seconds;  // unset when unknown
  // Shadow calls to this pool: answers that matched or not, and shadow calls that failed.
  uint64_t mirror_match = 0;
  uint64_t mirror_mismatch = 0;
  uint64_t mirror_errors = 0;
  std::optional<double> mirror_p99_seconds;  // the shadow calls' own p99; unset when unknown
  // The response messages' p99s: from the request headers to the first one (time to first
  // token), and between later ones; unset when no message was timed.
  std::optional<double> first_message_p99_seconds;
  std::optional<double> message_gap_p99_seconds;
  // Latency histogram, not cumulative: (upper bound in seconds, count), rising bounds.
  std::vector<std::pair<double, uint64_t>> latency;
  // How many replicas' traffic this sums (state_store.etcd); 0: this process's only.
  int replicas = 0;

  double ErrorRate() const { return requests == 0 ? 0.0 : double(server_errors) / requests; }
  uint64_t MirrorTotal() const { return mirror_match + mirror_mismatch + mirror_errors; }
  // Adds `other` (a later window) to this one; p99 is recomputed from the histogram.
  void Add(const PoolStats& other);
  nlohmann::json ToJson() const;
  static PoolStats FromJson(const nlohmann::json& j);
};

// `seconds` as milliseconds for people: "12.34ms".
std::string Ms(double seconds);

// The value at quantile q of a non-cumulative histogram; nullopt when it is empty.
std::optional<double> HistogramQuantile(const std::vector<std::pair<double, uint64_t>>& h,
                                        double q);

enum class Outcome { kHold, kPass, kFail };
inline constexpr EnumName<Outcome> kOutcomeNames[] = {
    {Outcome::kHold, "hold"}, {Outcome::kPass, "pass"}, {Outcome::kFail, "fail"}};
inline const char* OutcomeName(Outcome o) { return NameOf(kOutcomeNames, o); }

struct Check {
  std::string name;  // e.g. "error_rate", "p99_ratio"
  double measured = 0;
  double threshold = 0;
  bool ok = true;
};

struct Verdict {
  Outcome outcome = Outcome::kHold;
  std::vector<Check> checks;
  std::string summary;  // one line for people, naming the measured values
  // The counts judged, {"candidate": {...}, "stable": {...}}; null when not set.
  nlohmann::json windows;

  nlohmann::json ToJson() const;
};

// Canary and blue-green analysis: the candidate's traffic against the stable pool's.
Verdict Judge(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable);
// Shadow analysis: the candidate's shadow calls (error rate, agreement, and their p99
// against the limit and against the stable pool's live p99).
Verdict JudgeShadow(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable);

struct ArmComparison {
  uint64_t stable_requests = 0, candidate_requests = 0;
  double stable_error_rate = 0, candidate_error_rate = 0;
  double error_rate_difference = 0;  // candidate - stable
  double error_cohens_h = 0;         // effect size of the error-rate difference
  double error_p_value = 1;          // two-proportion z-test, two-sided
  double stable_p50 = 0, candidate_p50 = 0, stable_p99 = 0, candidate_p99 = 0;
  double latency_p_value = 1;     // Mann-Whitney U, two-sided, ties corrected
  double latency_effect = 0;      // rank-biserial: > 0 when the candidate is slower
  bool candidate_worse = false;   // significantly more errors or slower at alpha
  bool candidate_better = false;  // significantly fewer errors or faster, and not worse
  std::string summary;

  nlohmann::json ToJson() const;
};
ArmComparison CompareArms(const PoolStats& stable, const PoolStats& candidate, double alpha);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_ANALYSIS_H_
