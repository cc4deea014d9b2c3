// SpecFromRequest: the StartRollout RPC's request as a RolloutSpec, with the API's defaults
// for the fields left unset.
#include "absl/strings/str_cat.h"
#include "admin/admin_service.h"
#include "base/status_macros.h"

namespace rollout::control {
namespace {

namespace v1 = ::rollout::admin::v1;

// The analysis: interval, min_requests, thresholds and limits.
absl::Status ReadThresholds(const v1::StartRolloutRequest& q, AnalysisSpec* out) {
  AnalysisSpec& a = *out;
  if (q.interval_seconds() < 0) return absl::InvalidArgumentError("interval: must be > 0");
  if (q.interval_seconds() > 0) a.interval = absl::Seconds(q.interval_seconds());
  if (q.min_requests() > 0) a.min_requests = q.min_requests();
  if (q.has_max_error_rate()) a.max_error_rate = q.max_error_rate();
  if (q.has_max_error_rate_increase()) {
    a.max_error_rate_increase = q.max_error_rate_increase();
  }
  if (q.has_max_p99_seconds()) a.max_p99_seconds = q.max_p99_seconds();
  if (q.has_max_p99_ratio()) a.max_p99_ratio = q.max_p99_ratio();
  if (q.has_max_first_message_p99_seconds()) {
    a.max_first_message_p99_seconds = q.max_first_message_p99_seconds();
  }
  if (q.has_max_first_message_p99_ratio()) {
    a.max_first_message_p99_ratio = q.max_first_message_p99_ratio();
  }
  if (q.has_max_message_gap_p99_seconds()) {
    a.max_message_gap_p99_seconds = q.max_message_gap_p99_seconds();
  }
  if (q.has_max_message_gap_p99_ratio())
    a.max_message_gap_p99_ratio = q.max_message_gap_p99_ratio();
  if (q.has_max_mismatch_rate()) a.max_mismatch_rate = q.max_mismatch_rate();
  if (q.failure_limit() > 0) a.failure_limit = static_cast<int>(q.failure_limit());
  if (q.inconclusive_limit() > 0) {
    a.inconclusive_limit = static_cast<int>(q.inconclusive_limit());
  }
  return absl::OkStatus();
}

// The compatibility gate, the release plan (start_at, window) and the other gates.
absl::Status ReadPlanAndGates(const v1::StartRolloutRequest& q, RolloutSpec* out) {
  RolloutSpec& spec = *out;
  if (!q.compatibility().empty()) {
    absl::StatusOr<Compatibility> c = ParseCompatibility(q.compatibility());
    if (!c.ok()) return c.status();
    spec.compatibility = *c;
  }
  if (!q.start_at().empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, q.start_at(), &spec.start_at, &err)) {
      return absl::InvalidArgumentError(
          absl::StrCat("start_at: \"", q.start_at(), "\" is not an RFC 3339 time (", err, ")"));
    }
  }
  if (q.approval().required() || !q.approval().webhook().empty()) {
    ApprovalSpec a;
    a.webhook = q.approval().webhook();
    if (q.approval().timeout_seconds() < 0) {
      return absl::InvalidArgumentError("approval.timeout: must be > 0");
    }
    if (q.approval().timeout_seconds() > 0)
      a.timeout = absl::Seconds(q.approval().timeout_seconds());
    spec.approval = a;
  }
  if (q.load_test().duration_seconds() != 0) {
    const v1::LoadTest& t = q.load_test();
    if (t.duration_seconds() < 0 || t.rate() < 0 || t.timeout_seconds() < 0) {
      return absl::InvalidArgumentError("load_test: duration, rate and timeout must be > 0");
    }
    LoadTestSpec l;
    l.duration = absl::Seconds(t.duration_seconds());
    if (t.rate() > 0) l.rate = t.rate();
    if (t.sample() > 0) l.sample = t.sample();
    if (t.max_bytes() > 0) l.max_bytes = t.max_bytes();
    if (t.timeout_seconds() > 0) l.timeout = absl::Seconds(t.timeout_seconds());
    spec.load_test = l;
  }
  if (q.has_window()) {
    absl::StatusOr<ReleaseWindow> w =
        ReleaseWindow::Parse(q.window().days(), q.window().hours(), q.window().timezone());
    if (!w.ok()) return w.status();
    spec.window = *std::move(w);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RolloutSpec> SpecFromRequest(const v1::StartRolloutRequest& q) {
  RolloutSpec spec;
  spec.route = q.route();
  absl::StatusOr<Strategy> strategy = ParseStrategy(q.strategy().empty() ? "canary" : q.strategy());
  if (!strategy.ok()) return strategy.status();
  spec.strategy = *strategy;
  spec.stable = q.stable();
  spec.candidate = q.candidate();
  spec.steps.assign(q.steps().begin(), q.steps().end());
  RETURN_IF_ERROR(ReadThresholds(q, &spec.analysis));
  spec.mirror_percent = q.mirror_percent();
  if (q.rollback_window_seconds() < 0) {
    return absl::InvalidArgumentError("rollback_window: must be >= 0");
  }
  if (q.rollback_window_seconds() > 0) {
    spec.rollback_window = absl::Seconds(q.rollback_window_seconds());
  }
  if (q.duration_seconds() < 0) return absl::InvalidArgumentError("duration: must be >= 0");
  spec.duration = absl::Seconds(q.duration_seconds());
  spec.sample_size = q.sample_size();
  if (q.alpha() != 0) spec.alpha = q.alpha();
  spec.auto_promote = q.auto_promote();
  if (q.has_non_inferiority_margin()) spec.non_inferiority_margin = q.non_inferiority_margin();
  if (q.has_latency_margin()) spec.latency_margin = q.latency_margin();
  spec.notes = q.notes();
  RETURN_IF_ERROR(ReadPlanAndGates(q, &spec));
  return spec;
}

}  // namespace rollout::control
