// RolloutSpec: what a rollout does (strategy, pools, steps) and how it is judged.
//
// The same fields come from `rolloutctl rollout start` flags, the StartRollout RPC and the
// config file's `rollouts:` list. ValidateRolloutSpec() checks one against the routing
// table and fills in the defaults, so every source is held to the same rules.
//
//   RolloutSpec spec;
//   spec.route = "infer"; spec.strategy = Strategy::kCanary;
//   spec.stable = "v1"; spec.candidate = "v2"; spec.steps = {5, 25, 50, 100};
//   absl::Status s = ValidateRolloutSpec(*table, &spec);
//
// Thread-safety: plain values.
#ifndef ROLLOUT_CONFIG_ROLLOUT_SPEC_H_
#define ROLLOUT_CONFIG_ROLLOUT_SPEC_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/enum_names.h"
#include "config/release_window.h"
#include "routing/routing_table.h"

namespace rollout::control {

// kRollback: a rollback (RolloutEngine::Rollback), the route back to what an earlier release
// left serving in one step; it is recorded like a rollout but is never started as one.
enum class Strategy { kCanary, kBlueGreen, kAbTest, kShadow, kRollback };
inline constexpr EnumName<Strategy> kStrategyNames[] = {{Strategy::kCanary, "canary"},
                                                        {Strategy::kBlueGreen, "blue_green"},
                                                        {Strategy::kAbTest, "ab_test"},
                                                        {Strategy::kShadow, "shadow"},
                                                        {Strategy::kRollback, "rollback"}};
inline const char* StrategyName(Strategy s) { return NameOf(kStrategyNames, s); }
absl::StatusOr<Strategy> ParseStrategy(const std::string& name);

// The compatibility gate (rollout/compatibility.h). auto: on for routes of the KServe v2
// service whose model's name is known (from the versions, the pools or the route's match),
// and recorded as skipped otherwise; schema: on, and a start without a known model name is
// refused; none: off.
enum class Compatibility { kAuto, kSchema, kNone };
inline constexpr EnumName<Compatibility> kCompatibilityNames[] = {
    {Compatibility::kAuto, "auto"},
    {Compatibility::kSchema, "schema"},
    {Compatibility::kNone, "none"}};
absl::StatusOr<Compatibility> ParseCompatibility(const std::string& name);

// The approval gate: a sign-off before step 1 (the security audit before release). With a
// webhook the engine POSTs the release to it and takes {"approved": true} or {"approved":
// false, "reason": ...}; without one, or while it does not answer, `rolloutctl rollout
// approve` signs off by hand. No sign-off within `timeout` aborts the release.
struct ApprovalSpec {
  std::string webhook;  // http:// or https://; "" for a sign-off by hand only
  absl::Duration timeout = absl::Hours(1);
};

// The load-test gate: the performance test before release. Before step 1 the proxy copies
// a sample of the route's real requests as they arrive (at most `sample` requests and
// `max_bytes` in all, in memory only, never written anywhere), then replays it to the
// candidate's endpoints only, at `rate` calls a second for `duration`; nobody sees those
// answers. They are judged with the rollout's analysis thresholds (error rate and p99, and
// against the stable pool's live traffic over the same time): a failure aborts the release
// before any user call. No request to sample within `timeout` aborts it too. A request over
// a sixteenth of `max_bytes` (at most 1 MiB), or with a compressed message, is not replayed.
struct LoadTestSpec {
  absl::Duration duration = absl::Seconds(30);
  double rate = 20;  // calls a second
  uint64_t sample = 100;
  uint64_t max_bytes = 16 << 20;
  absl::Duration timeout = absl::Minutes(5);  // to collect the sample
};

// The thresholds of one analysis. Unset thresholds are not checked.
// The default chance of a wrong verdict per rollout (RolloutSpec.alpha).
inline constexpr double kDefaultAlpha = 0.05;

struct AnalysisSpec {
  absl::Duration interval = absl::Seconds(30);
  uint64_t min_requests = 100;                    // per pool and window; below it the step holds
  std::optional<double> max_error_rate;           // candidate's server-error rate, 0..1
  std::optional<double> max_error_rate_increase;  // candidate minus stable, 0..1
  std::optional<double> max_p99_seconds;          // candidate's p99
  std::optional<double> max_p99_ratio;            // candidate p99 / stable p99
  std::optional<double> max_mismatch_rate;        // shadow answers that disagree, 0..1
  // The response messages (streaming calls of generative models): the candidate's p99 time
  // from the request headers to its first message (time to first token), and of the gaps
  // between later messages; each absolute, and as a ratio to the stable pool's.
  std::optional<double> max_first_message_p99_seconds;
  std::optional<double> max_first_message_p99_ratio;
  std::optional<double> max_message_gap_p99_seconds;
  std::optional<double> max_message_gap_p99_ratio;
  int failure_limit = 2;  // consecutive failures that abort
  // Holds in a row (too little traffic, no data, a check that could not be made) after
  // which the rollout stops in phase inconclusive for a person to decide.
  int inconclusive_limit = 10;
};

struct RolloutSpec {
  std::string route;
  Strategy strategy = Strategy::kCanary;
  std::string stable;
  std::string candidate;
  // The registered versions the two pools serve ("" for a pool with none). A rollout may
  // name versions instead of pools; the engine fills these in.
  std::string stable_version;
  std::string candidate_version;
  // canary: the candidate's percentages, rising, each in (0, 100]. ab_test: one value, the
  // candidate's share of the split (default 50). shadow: the canary that promotion starts.
  std::vector<double> steps;
  AnalysisSpec analysis;
  double mirror_percent = 0;                          // blue_green preview, shadow (default 100)
  absl::Duration rollback_window = absl::Minutes(5);  // blue_green
  absl::Duration duration = absl::ZeroDuration();     // ab_test: run this long...
  uint64_t sample_size = 0;                           // ...or until each arm answered this many
  // The chance of a wrong verdict the statistics may take per rollout: a good candidate
  // aborted (canary, blue_green, shadow), or the A/B test's significance level.
  double alpha = kDefaultAlpha;
  bool auto_promote = false;
  // ab_test: how much worse the candidate may be and still count as no worse: in server-error
  // rate points, and in the share of its calls slower than stable's median (about 1/2 for
  // an arm like stable's). auto_promote promotes only on non-inferiority of both.
  double non_inferiority_margin = 0.005;
  double latency_margin = 0.05;  // ab_test: act on the verdict
  std::string notes;             // release notes
  Compatibility compatibility = Compatibility::kAuto;
  // The release plan: the rollout waits (phase scheduled) until start_at, and its steps
  // advance only inside the window (phase waiting_for_window outside it).
  absl::Time start_at = absl::InfinitePast();
  std::optional<ReleaseWindow> window;
  std::optional<LoadTestSpec> load_test;
  std::optional<ApprovalSpec> approval;

  // The version's name where one is registered, else the pool's.
  const std::string& StableName() const { return stable_version.empty() ? stable : stable_version; }
  const std::string& CandidateName() const {
    return candidate_version.empty() ? candidate : candidate_version;
  }
  // "stable -> candidate", by those names, for messages.
  std::string Direction() const { return StableName() + " -> " + CandidateName(); }

  nlohmann::json ToJson() const;
  static absl::StatusOr<RolloutSpec> FromJson(const nlohmann::json& j);
};

// Checks `spec` against `table` and fills in defaults. INVALID_ARGUMENT names the field.
absl::Status ValidateRolloutSpec(const routing::RoutingTable& table, RolloutSpec* spec);

}  // namespace rollout::control

#endif  // ROLLOUT_CONFIG_ROLLOUT_SPEC_H_
