// LogLinearHistogram: a fixed-size latency histogram with bounded relative error.
//
// Values are non-negative integers (nanoseconds, by convention). Each power-of-two range
// [2^e, 2^(e+1)) is split into 2^kSubBucketBits linear buckets, so a quantile read back from
// the bucket midpoint is within 1/2^(kSubBucketBits+1) (0.4%) of a value in the bucket;
// values below 2^kSubBucketBits are exact. Recording is a few instructions and never
// allocates.
//
//   LogLinearHistogram h;
//   h.Record(absl::ToInt64Nanoseconds(elapsed));
//   uint64_t p99_ns = h.Quantile(0.99);
//
// Thread-safety: not thread-safe. Keep one per thread and Merge() them to read.
#ifndef ROLLOUT_METRICS_LOG_LINEAR_HISTOGRAM_H_
#define ROLLOUT_METRICS_LOG_LINEAR_HISTOGRAM_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace rollout::metrics {

class LogLinearHistogram final {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  static constexpr size_t kNumBuckets = (64 - kSubBucketBits + 1) * kSubBuckets;

  void Record(uint64_t value) {
    ++counts_[BucketIndex(value)];
    ++count_;
    sum_ += value;
    if (value > max_) max_ = value;
  }
  void Merge(const LogLinearHistogram& other);
  void Clear();

  // The value at quantile q in [0, 1] (0 when empty): the midpoint of the bucket that holds
  // the ceil(q * count)-th smallest value, clamped to the largest value recorded.
  uint64_t Quantile(double q) const;

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t max() const { return max_; }
  double Mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  static size_t BucketIndex(uint64_t value) {
    if (value < kSubBuckets) return static_cast<size_t>(value);
    const int exponent = 63 - __builtin_clzll(value);
    const int shift = exponent - kSubBucketBits;
    return static_cast<size_t>((shift + 1) * kSubBuckets + ((value >> shift) - kSubBuckets));
  }
  // The smallest value that lands in bucket `index`, and the bucket's width.
  static uint64_t BucketLowerBound(size_t index);
  static uint64_t BucketWidth(size_t index);

 private:
  std::array<uint64_t, kNumBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_LOG_LINEAR_HISTOGRAM_H_
