// Standard process metrics (the names every Prometheus client library uses), read from
// /proc at scrape time: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds.
//
// Thread-safety: thread-safe (stateless).
#ifndef ROLLOUT_METRICS_PROCESS_METRICS_H_
#define ROLLOUT_METRICS_PROCESS_METRICS_H_

#include <prometheus/metric_family.h>

#include <vector>

namespace rollout::metrics {

std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_PROCESS_METRICS_H_
