#include "metrics/log_linear_histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "metrics/status_code_name.h"

namespace rollout::metrics {
namespace {

// The value a sorted reference gives for quantile q (same rank rule as the histogram).
uint64_t Reference(std::vector<uint64_t> values, double q) {
  std::sort(values.begin(), values.end());
  const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * values.size())));
  return values[rank - 1];
}

TEST(LogLinearHistogramTest, QuantilesWithinOnePercentOfSortedReference) {
  std::mt19937_64 rng(42);
  // Latencies from 50 us to seconds, log-normally spread like real model serving.
  std::lognormal_distribution<double> latency(std::log(2e6), 1.2);
  std::vector<uint64_t> values;
  LogLinearHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = static_cast<uint64_t>(latency(rng)) + 50000;
    values.push_back(v);
    h.Record(v);
  }
  for (double q : {0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const double expected = static_cast<double>(Reference(values, q));
    EXPECT_NEAR(static_cast<double>(h.Quantile(q)), expected, expected * 0.01) << "q=" << q;
  }
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
}

TEST(LogLinearHistogramTest, SmallValuesAreExact) {
  LogLinearHistogram h;
  for (uint64_t v = 0; v < 100; ++v) h.Record(v);
  EXPECT_EQ(h.Quantile(0.5), 49u);
  EXPECT_EQ(h.Quantile(1.0), 99u);
  EXPECT_EQ(h.Quantile(0.0), 0u);
}

TEST(LogLinearHistogramTest, BucketsAreContiguousAndCoverEveryValue) {
  for (size_t i = 0; i + 1 < LogLinearHistogram::kNumBuckets; ++i) {
    ASSERT_EQ(LogLinearHistogram::Buckets::LowerBound(i) + LogLinearHistogram::Buckets::Width(i),
              LogLinearHistogram::Buckets::LowerBound(i + 1))
        << i;
  }
  for (uint64_t v : {0ull, 127ull, 128ull, 129ull, 1000ull, 123456789ull, ~0ull}) {
    const size_t b = LogLinearHistogram::Buckets::Index(v);
    ASSERT_LT(b, LogLinearHistogram::kNumBuckets);
    EXPECT_GE(v, LogLinearHistogram::Buckets::LowerBound(b));
    EXPECT_LE(v - LogLinearHistogram::Buckets::LowerBound(b),
              LogLinearHistogram::Buckets::Width(b) - 1);
  }
}

TEST(LogLinearHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LogLinearHistogram a, b, all;
  for (uint64_t v = 1; v < 5000; v += 3) {
    (v % 2 ? a : b).Record(v * 1000);
    all.Record(v * 1000);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.sum(), all.sum());
  for (double q : {0.1, 0.5, 0.99}) EXPECT_EQ(a.Quantile(q), all.Quantile(q));
  a.Clear();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.Quantile(0.5), 0u);
}

TEST(StatusCodeNameTest, CanonicalNames) {
  EXPECT_STREQ(StatusCodeName(0), "OK");
  EXPECT_STREQ(StatusCodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_STREQ(StatusCodeName(14), "UNAVAILABLE");
  EXPECT_STREQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_STREQ(StatusCodeName(17), "UNKNOWN_CODE");
  EXPECT_STREQ(StatusCodeName(-1), "UNKNOWN_CODE");
}

}  // namespace
}  // namespace rollout::metrics
