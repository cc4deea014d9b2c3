// The A/B verdict: is the candidate arm no worse than stable, by a stated margin, on every
// metric? Sequential and always-valid (sequential.h), so the test may be looked at after
// every interval and stop as soon as it knows.
//
// Two metrics, each a difference of rates (candidate minus stable, higher is worse):
//   errors  - the server-error rate; margin: non_inferiority_margin (rate points);
//   latency - the share of calls slower than stable's median (stable's own is about 1/2);
//             margin: latency_margin.
// Each gets its always-valid interval of the difference and a verdict:
//   inferior      - worse by more than the margin, beyond doubt;
//   superior      - better beyond doubt (and so non-inferior too);
//   non_inferior  - worse by less than the margin, beyond doubt;
//   inconclusive  - none of these yet.
// Non-inferiority is corrected across the metrics with Holm's step-down at alpha, so that
// "no worse on every metric" is wrong at most alpha of the time; inferiority and
// superiority are judged at alpha / 2 each (Bonferroni).
//
// Thread-safety: pure functions.
#ifndef ROLLOUT_ROLLOUT_AB_VERDICT_H_
#define ROLLOUT_ROLLOUT_AB_VERDICT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rollout/pool_stats.h"
#include "rollout/sequential.h"

namespace rollout::control {

enum class ArmVerdict { kInconclusive, kNonInferior, kSuperior, kInferior };
const char* ArmVerdictName(ArmVerdict v);

struct MetricVerdict {
  std::string metric;         // "errors", "latency"
  Evidence difference;        // candidate minus stable, at alpha / 2
  double margin = 0;          // the difference allowed
  double p_inferior = 1;      // always-valid p of "worse by at most the margin"
  double p_non_inferior = 1;  // always-valid p of "worse by the margin or more"
  ArmVerdict verdict = ArmVerdict::kInconclusive;
  nlohmann::json ToJson() const;
};

struct AbVerdict {
  std::vector<MetricVerdict> metrics;
  bool all_non_inferior = false;  // Holm at alpha: every metric non-inferior (or superior)
  bool any_inferior = false;
  std::string summary;  // one line for people
  nlohmann::json ToJson() const;
};

// The verdict on the two arms' traffic so far.
AbVerdict JudgeArms(const PoolStats& stable, const PoolStats& candidate, double error_margin,
                    double latency_margin, double alpha);

// About how many calls per arm the error-rate interval needs to narrow to `margin` when
// both arms fail at `error_rate`: the calls after which a candidate as good as stable is
// shown non-inferior about half of the time.
uint64_t CallsPerArmFor(double error_rate, double margin, double alpha);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_AB_VERDICT_H_
