// MetricSource: where rollout analysis reads a pool's traffic over a window.
//
// Two sources exist:
//   InProcessSource  - this proxy's own sliding windows (metrics::CallMetrics); right for
//                      a single replica, and windows are at most 60 s;
//   PrometheusSource - PromQL over a Prometheus server's HTTP API, so that the traffic of
//                      every proxy replica is judged together (prometheus_source.h).
// An error or an empty answer is "no data": the engine holds, it never passes on it.
//
// Thread-safety: implementations are thread-safe.
#ifndef ROLLOUT_ROLLOUT_METRIC_SOURCE_H_
#define ROLLOUT_ROLLOUT_METRIC_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "metrics/call_metrics.h"
#include "rollout/analysis.h"

namespace rollout::control {

class MetricSource {
 public:
  virtual ~MetricSource() = default;
  // `route`'s calls to `pool` over the last `window`. NOT_FOUND or UNAVAILABLE when there
  // is no data.
  virtual absl::StatusOr<PoolStats> Window(const std::string& route, const std::string& pool,
                                           absl::Duration window) = 0;
  virtual std::string name() const = 0;
};

class InProcessSource final : public MetricSource {
 public:
  explicit InProcessSource(const metrics::CallMetrics* calls) : calls_(calls) {}
  absl::StatusOr<PoolStats> Window(const std::string& route, const std::string& pool,
                                   absl::Duration window) override;
  std::string name() const override { return "in_process"; }

 private:
  const metrics::CallMetrics* const calls_;
};

// A WindowSnapshot as analysis input.
PoolStats ToPoolStats(const metrics::WindowSnapshot& s);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_METRIC_SOURCE_H_
