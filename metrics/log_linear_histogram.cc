#include "metrics/log_linear_histogram.h"

#include <algorithm>
#include <cmath>

namespace rollout::metrics {

uint64_t LogLinearHistogram::BucketLowerBound(size_t index) {
  if (index < kSubBuckets) return index;
  const size_t shift = index / kSubBuckets - 1;
  const uint64_t mantissa = kSubBuckets + index % kSubBuckets;
  return mantissa << shift;
}

uint64_t LogLinearHistogram::BucketWidth(size_t index) {
  if (index < kSubBuckets) return 1;
  return uint64_t{1} << (index / kSubBuckets - 1);
}

void LogLinearHistogram::Merge(const LogLinearHistogram& other) {
  for (size_t i = 0; i < kNumBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

void LogLinearHistogram::Clear() { *this = LogLinearHistogram(); }

uint64_t LogLinearHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kNumBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t mid = BucketLowerBound(i) + BucketWidth(i) / 2;
      return std::min(mid, max_);
    }
  }
  return max_;
}

}  // namespace rollout::metrics
