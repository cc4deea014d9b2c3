// Log-linear bucketing, and LogLinearHistogram, a fixed-size histogram with bounded
// relative error.
//
// LogLinearBuckets<B> splits each power-of-two range [2^e, 2^(e+1)) into 2^B linear
// buckets; values below 2^B get a bucket each. Reading a quantile back as the midpoint of
// its bucket is then within 1/2^(B+1) of the true value: 0.4% for B = 7, 0.8% for B = 6.
//
//   LogLinearHistogram h;                // B = 7, full uint64 range
//   h.Record(absl::ToInt64Nanoseconds(elapsed));
//   uint64_t p99_ns = h.Quantile(0.99);
//
// Thread-safety: LogLinearBuckets is stateless. LogLinearHistogram is not thread-safe: keep
// one per thread and Merge() them to read.
#ifndef ROLLOUT_METRICS_LOG_LINEAR_HISTOGRAM_H_
#define ROLLOUT_METRICS_LOG_LINEAR_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace rollout::metrics {

template <int kSubBucketBits>
struct LogLinearBuckets {
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  // Buckets needed to hold every value below 2^max_value_bits.
  static constexpr size_t CountFor(int max_value_bits) {
    return static_cast<size_t>(max_value_bits - kSubBucketBits + 1) * kSubBuckets;
  }

  static size_t Index(uint64_t value) {
    if (value < kSubBuckets) return static_cast<size_t>(value);
    const int exponent = 63 - __builtin_clzll(value);
    const int shift = exponent - kSubBucketBits;
    return static_cast<size_t>((shift + 1) * kSubBuckets + ((value >> shift) - kSubBuckets));
  }
  // The smallest value that lands in bucket `index`, and the bucket's width.
  static uint64_t LowerBound(size_t index) {
    if (index < kSubBuckets) return index;
    const size_t shift = index / kSubBuckets - 1;
    return (kSubBuckets + index % kSubBuckets) << shift;
  }
  static uint64_t Width(size_t index) {
    return index < kSubBuckets ? 1 : uint64_t{1} << (index / kSubBuckets - 1);
  }

  // The value at quantile q of a histogram given as `counts` (total `count`): the midpoint
  // of the bucket holding the ceil(q * count)-th smallest value, clamped to `max`.
  // `read(i)` returns the count of bucket i.
  template <typename ReadCount>
  static uint64_t Quantile(ReadCount read, size_t num_buckets, uint64_t count, uint64_t max,
                           double q) {
    if (count == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count)));
    uint64_t seen = 0;
    for (size_t i = 0; i < num_buckets; ++i) {
      seen += read(i);
      if (seen >= rank) return std::min(LowerBound(i) + Width(i) / 2, max);
    }
    return max;
  }
};

class LogLinearHistogram final {
 public:
  using Buckets = LogLinearBuckets<7>;
  static constexpr size_t kNumBuckets = Buckets::CountFor(64);

  void Record(uint64_t value) {
    ++counts_[Buckets::Index(value)];
    ++count_;
    sum_ += value;
    if (value > max_) max_ = value;
  }
  void Merge(const LogLinearHistogram& other);
  void Clear() { *this = LogLinearHistogram(); }

  uint64_t Quantile(double q) const {
    return Buckets::Quantile([this](size_t i) { return counts_[i]; }, kNumBuckets, count_, max_, q);
  }
  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t max() const { return max_; }
  double Mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

 private:
  std::array<uint64_t, kNumBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_LOG_LINEAR_HISTOGRAM_H_
