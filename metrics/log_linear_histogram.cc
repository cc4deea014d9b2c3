#include "metrics/log_linear_histogram.h"

namespace rollout::metrics {

void LogLinearHistogram::Merge(const LogLinearHistogram& other) {
  for (size_t i = 0; i < kNumBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

}  // namespace rollout::metrics
