// CallSeries: everything the proxy records about calls of one (route, pool) pair.
//
// Each worker thread writes only its own Cell, with plain relaxed stores (no lock, no
// read-modify-write shared between threads), so recording a call costs a few nanoseconds
// and never contends. Readers (the Prometheus scrape, the rollout analysis) sum the cells.
//
// Two views are kept:
//  - cumulative totals for Prometheus: calls by gRPC code, a latency histogram with fixed
//    buckets from 0.5 ms to 30 s, the latency sum, and calls in flight;
//  - a sliding window for rollout analysis: per second, calls by code class and a
//    log-linear latency histogram (quantiles within 0.8%), for the last kMaxWindowSeconds.
//    A cell holds its current second; when a worker moves to a new second it folds the old
//    one into the series' ring under the series mutex (once per second per worker, never per
//    call).
//
//   CallSeries* series = registry.Resolve("infer", "v2");   // when a table is adopted
//   CallSeries::Cell* cell = series->cell(worker_index);
//   cell->OnStart();                                         // per call
//   cell->OnEnd(grpc_code, latency_ns, now_ns);
//   WindowSnapshot s = series->Snapshot(absl::Seconds(30), now_ns);
//
// Thread-safety: Cell::OnStart/OnEnd only from the cell's worker thread. Sum() and
// Snapshot() from any thread; the values they see are at most one call stale.
#ifndef ROLLOUT_METRICS_CALL_SERIES_H_
#define ROLLOUT_METRICS_CALL_SERIES_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "metrics/log_linear_histogram.h"
#include "metrics/stream_counters.h"

namespace rollout::metrics {

// The clock every recorder and reader of call metrics uses (CLOCK_MONOTONIC, in ns).
int64_t MonotonicNowNs();

inline constexpr int kNumGrpcCodes = 17;

// Classes of gRPC codes that rollout analysis treats differently. A client that cancels
// says nothing about the version; a server-class code (UNAVAILABLE, INTERNAL,
// DEADLINE_EXCEEDED, ...) counts against it.
enum class CodeClass : uint8_t { kOk = 0, kCancelled, kClientError, kServerError };
inline constexpr int kNumCodeClasses = 4;
CodeClass ClassOf(int grpc_code);

// How a shadow (mirror) call's answers compared with the primary's.
enum class MirrorResult : uint8_t { kMatch = 0, kMismatch, kError, kDropped };
inline constexpr int kNumMirrorResults = 4;
inline constexpr const char* kMirrorResultNames[] = {"match", "mismatch", "error", "dropped"};
// Whether a mirror's top class (argmax of a classifier output row) was the primary's.
inline constexpr const char* kTop1Names[] = {"agree", "disagree"};

struct WindowSnapshot {
  absl::Duration window;
  uint64_t requests = 0;
  uint64_t ok = 0;
  uint64_t cancelled = 0;
  uint64_t client_errors = 0;
  uint64_t server_errors = 0;
  absl::Duration p50, p95, p99;  // zero when there were no requests
  // Shadow calls to this pool that concluded in the window, by MirrorResult, and the p99 of
  // their own latency (zero when none was timed).
  std::array<uint64_t, kNumMirrorResults> mirror{};
  uint64_t mirror_timed = 0;
  absl::Duration mirror_p99;
  // The window's latencies, in CallSeries::WindowBuckets (nanoseconds); for tests of
  // whole distributions (A/B verdicts).
  std::vector<uint64_t> latency_bins;
  // The response messages (StreamCounters): calls whose first message began in the window
  // and its quantiles, and the gaps between later messages (zero when there were none).
  uint64_t first_timed = 0;
  absl::Duration first_p50, first_p95, first_p99;
  uint64_t gap_timed = 0;
  absl::Duration gap_p50, gap_p95, gap_p99;
  // Their distributions, in CallSeries::StreamWindowBuckets (nanoseconds), and the shadow
  // calls' in CallSeries::MirrorWindowBuckets.
  std::vector<uint64_t> first_bins, gap_bins, mirror_bins;
};

// The raw counts behind a WindowSnapshot, which can be added up (across replicas) before
// the quantiles are computed (Summarize).
struct WindowCounts {
  absl::Duration window;
  std::array<uint64_t, kNumCodeClasses> classes{};  // by CodeClass
  std::vector<uint64_t> buckets;                    // CallSeries::WindowBuckets
  uint64_t max_ns = 0;
  std::array<uint64_t, kNumMirrorResults> mirror{};
  std::vector<uint64_t> mirror_buckets;  // CallSeries::MirrorWindowBuckets
  uint64_t mirror_max_ns = 0;
  std::vector<uint64_t> first_buckets;  // CallSeries::StreamWindowBuckets
  uint64_t first_max_ns = 0;
  std::vector<uint64_t> gap_buckets;  // CallSeries::StreamWindowBuckets
  uint64_t gap_max_ns = 0;

  void Add(const WindowCounts& other);
};

class CallSeries final {
 public:
  static constexpr int kMaxWindowSeconds = 60;
  using WindowBuckets = LogLinearBuckets<6>;
  // Latencies up to 2^38 ns (about 275 s); longer ones land in the last bucket.
  static constexpr size_t kWindowBuckets = WindowBuckets::CountFor(38);
  // Shadow latencies are kept coarser (p99 within 6%): only mirrored pools use them.
  using MirrorWindowBuckets = LogLinearBuckets<3>;
  static constexpr size_t kMirrorWindowBuckets = MirrorWindowBuckets::CountFor(38);
  // The response messages' first-message and gap times, as coarse (p99 within 6%).
  using StreamWindowBuckets = LogLinearBuckets<3>;
  static constexpr size_t kStreamWindowBuckets = StreamWindowBuckets::CountFor(38);

  class Cell {
   public:
    void OnStart() { Add(inflight_, int64_t{1}); }
    // A call that never reached its endpoint was started again on another one.
    void OnRetry() { Add(retries_, uint64_t{1}); }
    void OnEnd(int grpc_code, uint64_t latency_ns, int64_t now_ns);
    // A mirror call to this (route, pool) concluded; `difference` is the largest numeric
    // difference of its outputs from the primary's, `latency_ns` the shadow call's own time
    // (0 when it never went out).
    void OnMirror(MirrorResult result, double difference, int64_t now_ns, uint64_t latency_ns = 0);
    // Classifier rows of a compared mirror call whose argmax agreed, and did not.
    void OnMirrorTop1(uint64_t agree, uint64_t disagree) {
      Add(mirror_top1_[0], agree);
      Add(mirror_top1_[1], disagree);
    }
    // The response messages of this (route, pool)'s calls: a call's first one began
    // `latency_ns` after its request headers; a later one `gap_ns` after the one before;
    // `n` more began.
    void OnFirstMessage(uint64_t latency_ns, int64_t now_ns);
    void OnMessageGap(uint64_t gap_ns, int64_t now_ns);
    void OnMessages(uint64_t n) { stream_.OnMessages(n); }
    // The (route, pool) this cell records.
    const CallSeries* series() const { return series_; }

   private:
    friend class CallSeries;
    template <typename T>
    static void Add(std::atomic<T>& a, T n) {  // single writer: no locked instruction
      a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }

    using StreamSecond = std::array<std::atomic<uint64_t>, kStreamWindowBuckets>;
    // One first-message or gap time into the current second's `buckets` and `max_ns`.
    void RecordStreamTime(StreamSecond& buckets, std::atomic<uint64_t>& max_ns, uint64_t ns,
                          int64_t now_ns);

    CallSeries* series_ = nullptr;
    std::array<std::atomic<uint64_t>, kNumGrpcCodes> requests_{};
    std::array<std::atomic<uint64_t>, kLatencyBucketsSeconds.size() + 1> buckets_{};
    std::atomic<uint64_t> sum_ns_{0};
    std::atomic<int64_t> inflight_{0};
    std::atomic<uint64_t> retries_{0};
    std::array<std::atomic<uint64_t>, kNumMirrorResults> mirror_results_{};
    std::atomic<double> mirror_max_difference_{0};
    std::array<std::atomic<uint64_t>, kLatencyBucketsSeconds.size() + 1> mirror_buckets_{};
    std::atomic<uint64_t> mirror_sum_ns_{0};
    std::array<std::atomic<uint64_t>, 2> mirror_top1_{};  // agree, disagree
    StreamCounters stream_;
    // The second being recorded, and its counts (moved to the ring when it ends).
    std::atomic<int64_t> second_{-1};
    std::array<std::atomic<uint64_t>, kNumCodeClasses> second_classes_{};
    std::array<std::atomic<uint64_t>, kWindowBuckets> second_buckets_{};
    std::atomic<uint64_t> second_max_ns_{0};
    std::array<std::atomic<uint64_t>, kNumMirrorResults> second_mirror_{};
    std::array<std::atomic<uint64_t>, kMirrorWindowBuckets> second_mirror_buckets_{};
    std::atomic<uint64_t> second_mirror_max_ns_{0};
    StreamSecond second_first_{};
    std::atomic<uint64_t> second_first_max_ns_{0};
    StreamSecond second_gap_{};
    std::atomic<uint64_t> second_gap_max_ns_{0};
  };

  struct Totals {
    std::array<uint64_t, kNumGrpcCodes> requests{};
    std::array<uint64_t, kLatencyBucketsSeconds.size() + 1> buckets{};  // not cumulative
    double sum_seconds = 0;
    int64_t inflight = 0;
    uint64_t retries = 0;
    std::array<uint64_t, kNumMirrorResults> mirror{};
    double mirror_max_difference = 0;
    std::array<uint64_t, kLatencyBucketsSeconds.size() + 1> mirror_buckets{};  // shadow times
    double mirror_sum_seconds = 0;
    std::array<uint64_t, 2> mirror_top1{};  // classifier rows: agree, disagree
    StreamCounters::Totals stream;
  };

  CallSeries(std::string route, std::string pool, int workers);

  Cell* cell(int worker) { return cells_[worker].get(); }
  const std::string& route() const { return route_; }
  const std::string& pool() const { return pool_; }

  Totals Sum() const;
  // The last `window` (whole seconds, at most kMaxWindowSeconds) up to `now_ns`.
  WindowSnapshot Snapshot(absl::Duration window, int64_t now_ns) const;
  // The same as counts (of one second: window 1s, now_ns within that second).
  WindowCounts Counts(absl::Duration window, int64_t now_ns) const;

 private:
  struct Slot {
    int64_t second = -1;
    std::array<uint64_t, kNumCodeClasses> classes{};
    std::vector<uint32_t> buckets = std::vector<uint32_t>(kWindowBuckets);  // per second: fits
    uint64_t max_ns = 0;
    std::array<uint64_t, kNumMirrorResults> mirror{};
    std::vector<uint32_t> mirror_buckets = std::vector<uint32_t>(kMirrorWindowBuckets);
    uint64_t mirror_max_ns = 0;
    std::vector<uint32_t> first = std::vector<uint32_t>(kStreamWindowBuckets);
    uint64_t first_max_ns = 0;
    std::vector<uint32_t> gap = std::vector<uint32_t>(kStreamWindowBuckets);
    uint64_t gap_max_ns = 0;
  };
  static constexpr int kSlots = 64;  // > kMaxWindowSeconds, so a full window never wraps

  // Called by `cell`'s worker when it records in a new second.
  void Roll(Cell& cell, int64_t second);

  const std::string route_;
  const std::string pool_;
  std::vector<std::unique_ptr<Cell>> cells_;
  mutable std::mutex mu_;
  std::vector<Slot> ring_ ABSL_GUARDED_BY(mu_);
};

// Counts of nothing over `window`, with the buckets sized.
WindowCounts EmptyCounts(absl::Duration window);
// The window's totals and quantiles from its counts.
WindowSnapshot Summarize(WindowCounts counts);

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_CALL_SERIES_H_
