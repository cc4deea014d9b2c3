#include "metrics/call_series.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "metrics/call_metrics.h"

namespace rollout::metrics {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1000 * kSec;  // an arbitrary monotonic time

TEST(CallSeriesTest, TotalsCountEachCodeAndLatencyBucketExactly) {
  CallSeries series("infer", "v2", 2);
  CallSeries::Cell* w0 = series.cell(0);
  CallSeries::Cell* w1 = series.cell(1);
  for (int i = 0; i < 7; ++i) {
    w0->OnStart();
    w0->OnEnd(0, 300'000, kT0);  // OK, 0.3 ms
  }
  w1->OnStart();
  w1->OnEnd(14, 2'000'000, kT0);  // UNAVAILABLE, 2 ms
  w1->OnStart();
  w1->OnEnd(0, 40 * kSec, kT0);  // OK, beyond the last bucket
  w1->OnStart();                 // still in flight

  const CallSeries::Totals t = series.Sum();
  EXPECT_EQ(t.requests[0], 8u);
  EXPECT_EQ(t.requests[14], 1u);
  EXPECT_EQ(t.inflight, 1);
  EXPECT_EQ(t.buckets[0], 7u);                     // <= 0.5 ms
  EXPECT_EQ(t.buckets[2], 1u);                     // (1 ms, 2.5 ms]
  EXPECT_EQ(t.buckets[t.buckets.size() - 1], 1u);  // +Inf
  EXPECT_NEAR(t.sum_seconds, 7 * 0.0003 + 0.002 + 40, 1e-9);
}

TEST(CallSeriesTest, WindowCountsOnlyTheLastSeconds) {
  CallSeries series("r", "p", 1);
  CallSeries::Cell* cell = series.cell(0);
  for (int s = 0; s < 10; ++s) {  // one call per second, the last three failing
    cell->OnStart();
    cell->OnEnd(s >= 7 ? 13 : 0, 1'000'000, kT0 + s * kSec);
  }
  const int64_t now = kT0 + 9 * kSec + kSec / 2;
  WindowSnapshot all = series.Snapshot(absl::Seconds(10), now);
  EXPECT_EQ(all.requests, 10u);
  EXPECT_EQ(all.server_errors, 3u);
  WindowSnapshot last3 = series.Snapshot(absl::Seconds(3), now);
  EXPECT_EQ(last3.requests, 3u);
  EXPECT_EQ(last3.server_errors, 3u);
  // Much later, nothing is left in the window.
  EXPECT_EQ(series.Snapshot(absl::Seconds(60), now + 120 * kSec).requests, 0u);
}

TEST(CallSeriesTest, CodeClassesKeepCancelsApart) {
  CallSeries series("r", "p", 1);
  CallSeries::Cell* cell = series.cell(0);
  for (int code : {0, 0, 0, 0, 1, 1, 3, 5, 14, 4}) {
    cell->OnStart();
    cell->OnEnd(code, 1000, kT0);
  }
  WindowSnapshot s = series.Snapshot(absl::Seconds(5), kT0);
  EXPECT_EQ(s.requests, 10u);
  EXPECT_EQ(s.ok, 4u);
  EXPECT_EQ(s.cancelled, 2u);
  EXPECT_EQ(s.client_errors, 2u);  // INVALID_ARGUMENT, NOT_FOUND
  EXPECT_EQ(s.server_errors, 2u);  // UNAVAILABLE, DEADLINE_EXCEEDED
  EXPECT_EQ(ClassOf(16), CodeClass::kClientError);
  EXPECT_EQ(ClassOf(13), CodeClass::kServerError);
}

TEST(CallSeriesTest, WindowQuantilesWithinOnePercentAcrossWorkersAndSeconds) {
  CallSeries series("r", "p", 2);
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(std::log(3e6), 0.9);  // around 3 ms
  std::vector<uint64_t> values;
  for (int i = 0; i < 60000; ++i) {
    const uint64_t v = static_cast<uint64_t>(latency(rng)) + 100'000;
    values.push_back(v);
    CallSeries::Cell* cell = series.cell(i % 2);
    cell->OnStart();
    cell->OnEnd(0, v, kT0 + (i / 2000) * kSec);  // spread over 30 seconds
  }
  WindowSnapshot s = series.Snapshot(absl::Seconds(30), kT0 + 29 * kSec);
  ASSERT_EQ(s.requests, values.size());
  std::sort(values.begin(), values.end());
  auto reference = [&](double q) {
    return static_cast<double>(values[static_cast<size_t>(std::ceil(q * values.size())) - 1]);
  };
  EXPECT_NEAR(absl::ToDoubleNanoseconds(s.p50), reference(0.50), reference(0.50) * 0.01);
  EXPECT_NEAR(absl::ToDoubleNanoseconds(s.p95), reference(0.95), reference(0.95) * 0.01);
  EXPECT_NEAR(absl::ToDoubleNanoseconds(s.p99), reference(0.99), reference(0.99) * 0.01);
}

TEST(CallSeriesTest, ConcurrentWritersAndReaderAgreeOnTheTotal) {
  CallSeries series("r", "p", 2);
  constexpr int kPerWorker = 200000;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) series.Sum(), series.Snapshot(absl::Seconds(60), kT0 + 59 * kSec);
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWorker; ++i) {
        series.cell(w)->OnStart();
        series.cell(w)->OnEnd(i % 3 == 0 ? 14 : 0, 1000 + i, kT0 + (i / 5000) * kSec);
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  const CallSeries::Totals t = series.Sum();
  EXPECT_EQ(t.requests[0] + t.requests[14], 2u * kPerWorker);
  EXPECT_EQ(t.inflight, 0);
  EXPECT_EQ(series.Snapshot(absl::Seconds(60), kT0 + 39 * kSec).requests, 2u * kPerWorker);
}

TEST(CallSeriesTest, ShadowResultsAndLatencyHaveTheirOwnWindow) {
  CallSeries series("infer", "v2", 2);
  // 95 matches at 10 ms and 5 at 100 ms, over two workers and two seconds; a drop is untimed.
  for (int i = 0; i < 95; ++i) {
    series.cell(i % 2)->OnMirror(MirrorResult::kMatch, 0, kT0 + (i % 2) * kSec, 10'000'000);
  }
  for (int i = 0; i < 5; ++i) {
    series.cell(0)->OnMirror(MirrorResult::kMismatch, 0.5, kT0 + kSec, 100'000'000);
  }
  series.cell(1)->OnMirror(MirrorResult::kDropped, 0, kT0 + kSec);
  series.cell(1)->OnMirror(MirrorResult::kError, 0, kT0 - 30 * kSec, 1'000'000);  // long ago

  const WindowSnapshot s = series.Snapshot(absl::Seconds(10), kT0 + kSec);
  EXPECT_EQ(s.mirror[static_cast<int>(MirrorResult::kMatch)], 95u);
  EXPECT_EQ(s.mirror[static_cast<int>(MirrorResult::kMismatch)], 5u);
  EXPECT_EQ(s.mirror[static_cast<int>(MirrorResult::kDropped)], 1u);
  EXPECT_EQ(s.mirror[static_cast<int>(MirrorResult::kError)], 0u);  // outside the window
  EXPECT_EQ(s.mirror_timed, 100u);
  EXPECT_NEAR(absl::ToDoubleSeconds(s.mirror_p99), 0.100, 0.100 * 0.07);
  EXPECT_EQ(s.requests, 0u);  // shadow calls are not primary calls
  const CallSeries::Totals t = series.Sum();
  EXPECT_EQ(t.mirror_buckets[4], 95u);  // (5 ms, 10 ms]
  EXPECT_EQ(t.mirror_buckets[7], 5u);   // (50 ms, 100 ms]
  EXPECT_NEAR(t.mirror_sum_seconds, 95 * 0.010 + 5 * 0.100 + 0.001, 1e-9);
}

TEST(CallSeriesTest, ResponseMessageTimesHaveTheirOwnWindows) {
  CallSeries series("chat", "v2", 2);
  // 99 first messages at 20 ms and one at 400 ms; gaps of 5 ms, and one old one at 1 s.
  for (int i = 0; i < 99; ++i) series.cell(i % 2)->OnFirstMessage(20'000'000, kT0 + (i % 2) * kSec);
  series.cell(0)->OnFirstMessage(400'000'000, kT0 + kSec);
  for (int i = 0; i < 50; ++i) series.cell(1)->OnMessageGap(5'000'000, kT0 + kSec);
  series.cell(0)->OnMessageGap(1'000'000'000, kT0 - 30 * kSec);  // outside the window
  series.cell(0)->OnMessages(151);
  const WindowSnapshot s = series.Snapshot(absl::Seconds(10), kT0 + kSec);
  EXPECT_EQ(s.first_timed, 100u);
  EXPECT_NEAR(absl::ToDoubleSeconds(s.first_p50), 0.020, 0.020 * 0.07);
  EXPECT_NEAR(absl::ToDoubleSeconds(s.first_p99), 0.020, 0.020 * 0.07);  // rank 99 of 100
  EXPECT_EQ(s.gap_timed, 50u);
  EXPECT_NEAR(absl::ToDoubleSeconds(s.gap_p99), 0.005, 0.005 * 0.07);
  EXPECT_EQ(s.requests, 0u);  // messages are not calls
  const CallSeries::Totals t = series.Sum();
  EXPECT_EQ(t.stream.messages, 151u);
  EXPECT_EQ(t.stream.first[5], 99u);  // (10 ms, 25 ms]
  EXPECT_EQ(t.stream.first[9], 1u);   // (250 ms, 500 ms]
  EXPECT_NEAR(t.stream.gap_sum_seconds, 50 * 0.005 + 1.0, 1e-9);
  WindowCounts merged = series.Counts(absl::Seconds(10), kT0 + kSec);
  merged.Add(series.Counts(absl::Seconds(10), kT0 + kSec));  // two replicas' worth
  EXPECT_EQ(Summarize(merged).first_timed, 200u);
}

TEST(CallMetricsTest, ResolveReturnsOneStableSeriesPerPair) {
  CallMetrics metrics(2);
  CallSeries* a = metrics.Resolve("infer", "v1");
  EXPECT_EQ(metrics.Resolve("infer", "v1"), a);
  EXPECT_NE(metrics.Resolve("infer", "v2"), a);
  EXPECT_EQ(metrics.All().size(), 2u);
  EXPECT_FALSE(metrics.Snapshot("infer", "v3", absl::Seconds(10)).has_value());
  a->cell(1)->OnStart();
  a->cell(1)->OnEnd(0, 5000, kT0);
  EXPECT_EQ(metrics.Snapshot("infer", "v1", absl::Seconds(10), kT0)->requests, 1u);
}

}  // namespace
}  // namespace rollout::metrics
