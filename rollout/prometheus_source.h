// PrometheusSource: rollout analysis over PromQL, so that every proxy replica's traffic is
// judged together (Prometheus sums the replicas' series).
//
// Five instant queries per pool and window, over the HTTP API (/api/v1/query). Each is a
// template: {route}, {pool} and {window} (e.g. "30s") are replaced before it is sent. The
// defaults read rollout-proxy's own families; any of them can be replaced in the config
// (analysis.prometheus.queries). A query that fails, or an empty answer to the requests
// query, is "no data" (UNAVAILABLE / NOT_FOUND), so the step holds.
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_ROLLOUT_PROMETHEUS_SOURCE_H_
#define ROLLOUT_ROLLOUT_PROMETHEUS_SOURCE_H_

#include <map>
#include <string>

#include "config/prometheus_spec.h"
#include "rollout/metric_source.h"

namespace rollout::control {

class PrometheusSource final : public MetricSource {
 public:
  explicit PrometheusSource(PrometheusSourceConfig config) : config_(std::move(config)) {}
  absl::StatusOr<PoolStats> Window(const std::string& route, const std::string& pool,
                                   absl::Duration window) override;
  std::string name() const override { return "prometheus"; }

  // The query as sent, with the placeholders filled in.
  static std::string Expand(const std::string& query, const std::string& route,
                            const std::string& pool, absl::Duration window);

 private:
  // The samples of an instant query: label value of `by` (empty for a scalar) -> value.
  absl::StatusOr<std::map<std::string, double>> Query(const std::string& promql,
                                                      const std::string& by);
  // A `sum by (le)` query as a non-cumulative histogram, rising bounds.
  absl::StatusOr<std::vector<std::pair<double, uint64_t>>> Histogram(const std::string& promql);

  const PrometheusSourceConfig config_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_PROMETHEUS_SOURCE_H_
