#include "metrics/stream_counters.h"

namespace rollout::metrics {

size_t LatencyBucket(uint64_t latency_ns) {
  static const auto kBoundsNs = [] {
    std::array<uint64_t, kLatencyBucketsSeconds.size()> bounds{};
    for (size_t i = 0; i < bounds.size(); ++i) {
      bounds[i] = static_cast<uint64_t>(kLatencyBucketsSeconds[i] * 1e9);
    }
    return bounds;
  }();
  size_t i = 0;
  while (i < kBoundsNs.size() && latency_ns > kBoundsNs[i]) ++i;
  return i;  // kBoundsNs.size() is +Inf
}

void StreamCounters::AddTo(Totals* t) const {
  for (size_t b = 0; b < t->first.size(); ++b) {
    t->first[b] += first_[b].load(std::memory_order_relaxed);
    t->gap[b] += gap_[b].load(std::memory_order_relaxed);
  }
  t->first_sum_seconds += static_cast<double>(first_sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  t->gap_sum_seconds += static_cast<double>(gap_sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  t->messages += messages_.load(std::memory_order_relaxed);
}

}  // namespace rollout::metrics
