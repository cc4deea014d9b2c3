// ProxyCollector: turns the proxy's state into Prometheus metric families at scrape time.
//
// Families (names, labels and units: the contract in the README's "Prometheus metrics" row):
//   rollout_proxy_requests_total{route,pool,grpc_code}         counter
//   rollout_proxy_request_duration_seconds{route,pool}          histogram, 0.5 ms .. 30 s
//   rollout_proxy_inflight_requests{route,pool}                 gauge
//   rollout_proxy_upstream_retries_total{route,pool}            counter
//   rollout_proxy_mirror_results_total{route,pool,result}       counter (mirror pools only)
//   rollout_proxy_mirror_max_difference{route,pool}             gauge
//   rollout_proxy_mirror_duration_seconds{route,pool}           histogram, shadow call time
//   rollout_proxy_mirror_top1_total{route,pool,agreement}       counter, classifier rows whose
//                                                               argmax agreed (agree, disagree)
//   rollout_proxy_route_weight{route,pool}                      gauge, share 0..1
//   rollout_proxy_endpoint_healthy{pool,endpoint}               gauge, 1 or 0
//   rollout_proxy_rejected_requests_total{limit,pool}           counter, over a concurrency
//                                                               limit (listener or pool)
//   rollout_proxy_routing_table_generation                      gauge
//   rollout_proxy_build_info{version}                           gauge, always 1
// plus the process_* families. Weights and health are read from the current routing table
// and the engine when scraped, so they change the moment a new table is published.
//
// Thread-safety: Collect() may run on any thread (prometheus-cpp calls it from its HTTP
// threads); the sources it reads are thread-safe.
#ifndef ROLLOUT_METRICS_PROXY_COLLECTOR_H_
#define ROLLOUT_METRICS_PROXY_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "metrics/call_metrics.h"
#include "metrics/rejections.h"
#include "routing/routing_table_store.h"

namespace rollout::metrics {

class ProxyCollector final : public prometheus::Collectable {
 public:
  // endpoint address -> healthy; endpoints it does not list are reported healthy = 0.
  using HealthSource = std::function<absl::flat_hash_map<std::string, bool>()>;

  // Families owned by other parts (the rollout engine's), added at scrape time.
  using ExtraFamilies = std::function<std::vector<prometheus::MetricFamily>()>;
  // Calls refused by the engine's concurrency limits.
  using RejectionSource = std::function<std::vector<Rejections>()>;

  ProxyCollector(const CallMetrics* calls, const routing::RoutingTableStore* tables,
                 HealthSource health, std::string version, ExtraFamilies extra = nullptr,
                 RejectionSource rejections = nullptr)
      : calls_(calls),
        tables_(tables),
        health_(std::move(health)),
        version_(std::move(version)),
        extra_(std::move(extra)),
        rejections_(std::move(rejections)) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const CallMetrics* calls_;
  const routing::RoutingTableStore* tables_;
  HealthSource health_;
  std::string version_;
  ExtraFamilies extra_;
  RejectionSource rejections_;
};

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_PROXY_COLLECTOR_H_
