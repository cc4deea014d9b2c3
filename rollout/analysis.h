// Analysis: judging a candidate pool against the stable pool over the traffic of a step
// so far (the windows of its intervals added up).
//
// Judge() is a pure function of the two pools' numbers and the thresholds, so every
// decision path is testable without traffic. Its verdict is one of:
//   hold - too little traffic (below min_requests), no data, or a threshold the estimate
//          is beyond but not yet beyond doubt: neither pass nor fail;
//   pass - every threshold that is set holds on the estimates;
//   fail - at least one threshold is broken beyond doubt: its always-valid test
//          (sequential.h) is significant, so looking after every interval does not make
//          a good candidate fail more often than alpha.
// Each check records the measured value against its threshold, with the test's estimate,
// interval and p-value, for the status, the Watch events, the audit log and the release
// record.
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
#include "rollout/pool_stats.h"
#include "rollout/sequential.h"

namespace rollout::control {

// `seconds` as milliseconds for people: "12.34ms"; `fraction` as a percentage: "1.25%".
std::string Ms(double seconds);
std::string Pct(double fraction);

enum class Outcome { kHold, kPass, kFail };
inline constexpr EnumName<Outcome> kOutcomeNames[] = {
    {Outcome::kHold, "hold"}, {Outcome::kPass, "pass"}, {Outcome::kFail, "fail"}};
inline const char* OutcomeName(Outcome o) { return NameOf(kOutcomeNames, o); }

struct Check {
  std::string name;  // e.g. "error_rate", "p99_ratio"
  double measured = 0;
  double threshold = 0;
  bool ok = true;  // measured within the threshold
  // The always-valid test of the threshold (sequential.h); unset where the source gave no
  // distribution to test (a p99 alone), and then a check that is not ok is broken.
  std::optional<Evidence> evidence;

  // Not ok, and beyond doubt: fails the verdict. Not ok but not yet significant holds it.
  bool Broken() const { return !ok && (!evidence.has_value() || evidence->Significant()); }
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
// `alpha` is the chance of a false failure this verdict may take, at every look; it is
// split evenly among the checks that are set (Bonferroni).
Verdict Judge(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable,
              double alpha = kDefaultAlpha);
// Shadow analysis: the candidate's shadow calls (error rate, agreement, and their p99
// against the limit and against the stable pool's live p99).
Verdict JudgeShadow(const AnalysisSpec& spec, const PoolStats& candidate, const PoolStats& stable,
                    double alpha = kDefaultAlpha);

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
