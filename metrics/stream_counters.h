// StreamCounters: the response messages of one (route, pool) on one worker, counted on the
// frame level (the data plane finds the gRPC message boundaries; nothing is decoded):
//   - the time from a call's request headers to the start of its first response message
//     (a generative model's time to first token);
//   - the gaps between the starts of its later messages (time per output token);
//   - how many messages there were.
// Latencies go into the buckets of the Prometheus latency histogram (kLatencyBucketsSeconds,
// with +Inf last), as rollout_proxy_stream_first_message_seconds and
// rollout_proxy_stream_message_gap_seconds.
//
// Thread-safety: one writer (the cell's worker); AddTo() may run on any thread.
#ifndef ROLLOUT_METRICS_STREAM_COUNTERS_H_
#define ROLLOUT_METRICS_STREAM_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace rollout::metrics {

// Upper bounds (seconds) of the Prometheus latency histograms; +Inf is implied.
inline constexpr std::array<double, 15> kLatencyBucketsSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
using LatencyBuckets = std::array<uint64_t, kLatencyBucketsSeconds.size() + 1>;
// The bucket of `latency_ns` (kLatencyBucketsSeconds.size() for +Inf).
size_t LatencyBucket(uint64_t latency_ns);

class StreamCounters {
 public:
  struct Totals {
    LatencyBuckets first{};  // not cumulative
    double first_sum_seconds = 0;
    LatencyBuckets gap{};
    double gap_sum_seconds = 0;
    uint64_t messages = 0;
  };

  void OnFirstMessage(uint64_t ns) { Record(first_, first_sum_ns_, ns); }
  void OnGap(uint64_t ns) { Record(gap_, gap_sum_ns_, ns); }
  void OnMessages(uint64_t n) { Add(messages_, n); }
  void AddTo(Totals* t) const;

 private:
  using Buckets = std::array<std::atomic<uint64_t>, kLatencyBucketsSeconds.size() + 1>;
  static void Add(std::atomic<uint64_t>& a, uint64_t n) {  // single writer
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void Record(Buckets& buckets, std::atomic<uint64_t>& sum_ns, uint64_t ns) {
    Add(buckets[LatencyBucket(ns)], 1);
    Add(sum_ns, ns);
  }

  Buckets first_{};
  std::atomic<uint64_t> first_sum_ns_{0};
  Buckets gap_{};
  std::atomic<uint64_t> gap_sum_ns_{0};
  std::atomic<uint64_t> messages_{0};
};

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_STREAM_COUNTERS_H_
