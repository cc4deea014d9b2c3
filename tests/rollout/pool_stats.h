// Metric-source answers for rollout tests: a pool's traffic by counts, or by a latency
// histogram.
#ifndef ROLLOUT_TESTS_ROLLOUT_POOL_STATS_H_
#define ROLLOUT_TESTS_ROLLOUT_POOL_STATS_H_

#include <utility>
#include <vector>

#include "rollout/analysis.h"

namespace rollout::control {

inline PoolStats Traffic(uint64_t requests, uint64_t errors, double p99) {
  PoolStats s;
  s.requests = requests;
  s.server_errors = errors;
  s.p99_seconds = p99;
  return s;
}

// Traffic whose latency is the histogram `bins` (upper bound, count), p99 from it.
inline PoolStats Latencies(uint64_t errors, std::vector<std::pair<double, uint64_t>> bins) {
  PoolStats s;
  for (const auto& [b, n] : bins) s.requests += n;
  s.server_errors = errors;
  s.latency = std::move(bins);
  s.p99_seconds = HistogramQuantile(s.latency, 0.99);
  return s;
}

}  // namespace rollout::control

#endif  // ROLLOUT_TESTS_ROLLOUT_POOL_STATS_H_
