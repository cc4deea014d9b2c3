#include "metrics/call_series.h"

#include <time.h>

#include <algorithm>

namespace rollout::metrics {

int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

CodeClass ClassOf(int code) {
  switch (code) {
    case 0:  // OK
      return CodeClass::kOk;
    case 1:  // CANCELLED
      return CodeClass::kCancelled;
    case 3:   // INVALID_ARGUMENT
    case 5:   // NOT_FOUND
    case 6:   // ALREADY_EXISTS
    case 7:   // PERMISSION_DENIED
    case 9:   // FAILED_PRECONDITION
    case 11:  // OUT_OF_RANGE
    case 16:  // UNAUTHENTICATED
      return CodeClass::kClientError;
    default:  // UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, UNIMPLEMENTED,
              // INTERNAL, UNAVAILABLE, DATA_LOSS
      return CodeClass::kServerError;
  }
}

namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

}  // namespace

void CallSeries::Cell::OnEnd(int grpc_code, uint64_t latency_ns, int64_t now_ns) {
  const int code = grpc_code >= 0 && grpc_code < kNumGrpcCodes ? grpc_code : 2;  // UNKNOWN
  Add(requests_[code], uint64_t{1});
  Add(buckets_[LatencyBucket(latency_ns)], uint64_t{1});
  Add(sum_ns_, latency_ns);
  Add(inflight_, int64_t{-1});

  const int64_t second = now_ns / kNsPerSecond;
  if (second != second_.load(std::memory_order_relaxed)) series_->Roll(*this, second);
  Add(second_classes_[static_cast<int>(ClassOf(code))], uint64_t{1});
  const uint64_t capped = std::min<uint64_t>(latency_ns, (uint64_t{1} << 38) - 1);
  Add(second_buckets_[WindowBuckets::Index(capped)], uint64_t{1});
  if (latency_ns > second_max_ns_.load(std::memory_order_relaxed)) {
    second_max_ns_.store(latency_ns, std::memory_order_relaxed);
  }
}

void CallSeries::Cell::OnMirror(MirrorResult result, double difference, int64_t now_ns,
                                uint64_t latency_ns) {
  Add(mirror_results_[static_cast<int>(result)], uint64_t{1});
  if (difference > mirror_max_difference_.load(std::memory_order_relaxed)) {
    mirror_max_difference_.store(difference, std::memory_order_relaxed);
  }
  if (latency_ns > 0) {
    Add(mirror_buckets_[LatencyBucket(latency_ns)], uint64_t{1});
    Add(mirror_sum_ns_, latency_ns);
  }
  const int64_t second = now_ns / kNsPerSecond;
  if (second != second_.load(std::memory_order_relaxed)) series_->Roll(*this, second);
  Add(second_mirror_[static_cast<int>(result)], uint64_t{1});
  if (latency_ns > 0) {
    const uint64_t capped = std::min<uint64_t>(latency_ns, (uint64_t{1} << 38) - 1);
    Add(second_mirror_buckets_[MirrorWindowBuckets::Index(capped)], uint64_t{1});
    if (latency_ns > second_mirror_max_ns_.load(std::memory_order_relaxed)) {
      second_mirror_max_ns_.store(latency_ns, std::memory_order_relaxed);
    }
  }
}

void CallSeries::Cell::OnFirstMessage(uint64_t latency_ns, int64_t now_ns) {
  stream_.OnFirstMessage(latency_ns);
  RecordStreamTime(second_first_, second_first_max_ns_, latency_ns, now_ns);
}

void CallSeries::Cell::OnMessageGap(uint64_t gap_ns, int64_t now_ns) {
  stream_.OnGap(gap_ns);
  RecordStreamTime(second_gap_, second_gap_max_ns_, gap_ns, now_ns);
}

void CallSeries::Cell::RecordStreamTime(StreamSecond& buckets, std::atomic<uint64_t>& max_ns,
                                        uint64_t ns, int64_t now_ns) {
  const int64_t second = now_ns / kNsPerSecond;
  if (second != second_.load(std::memory_order_relaxed)) series_->Roll(*this, second);
  const uint64_t capped = std::min<uint64_t>(ns, (uint64_t{1} << 38) - 1);
  Add(buckets[StreamWindowBuckets::Index(capped)], uint64_t{1});
  if (capped > max_ns.load(std::memory_order_relaxed)) {
    max_ns.store(capped, std::memory_order_relaxed);
  }
}

CallSeries::CallSeries(std::string route, std::string pool, int workers)
    : route_(std::move(route)), pool_(std::move(pool)), ring_(kSlots) {
  for (int i = 0; i < workers; ++i) {
    cells_.push_back(std::make_unique<Cell>());
    cells_.back()->series_ = this;
  }
}

void CallSeries::Roll(Cell& cell, int64_t second) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t old = cell.second_.load(std::memory_order_relaxed);
  if (old >= 0) {
    Slot& slot = ring_[old % kSlots];
    if (slot.second < old) {  // the slot holds an older second (or nothing): reuse it
      slot = Slot();
      slot.second = old;
    }
    if (slot.second == old) {  // a newer second in that slot means `old` is long gone
      for (int c = 0; c < kNumCodeClasses; ++c) {
        slot.classes[c] += cell.second_classes_[c].load(std::memory_order_relaxed);
      }
      for (size_t b = 0; b < kWindowBuckets; ++b) {
        slot.buckets[b] +=
            static_cast<uint32_t>(cell.second_buckets_[b].load(std::memory_order_relaxed));
      }
      slot.max_ns = std::max(slot.max_ns, cell.second_max_ns_.load(std::memory_order_relaxed));
      for (int r = 0; r < kNumMirrorResults; ++r) {
        slot.mirror[r] += cell.second_mirror_[r].load(std::memory_order_relaxed);
      }
      for (size_t b = 0; b < kMirrorWindowBuckets; ++b) {
        slot.mirror_buckets[b] +=
            static_cast<uint32_t>(cell.second_mirror_buckets_[b].load(std::memory_order_relaxed));
      }
      slot.mirror_max_ns =
          std::max(slot.mirror_max_ns, cell.second_mirror_max_ns_.load(std::memory_order_relaxed));
      for (size_t b = 0; b < kStreamWindowBuckets; ++b) {
        slot.first[b] +=
            static_cast<uint32_t>(cell.second_first_[b].load(std::memory_order_relaxed));
        slot.gap[b] += static_cast<uint32_t>(cell.second_gap_[b].load(std::memory_order_relaxed));
      }
      slot.first_max_ns =
          std::max(slot.first_max_ns, cell.second_first_max_ns_.load(std::memory_order_relaxed));
      slot.gap_max_ns =
          std::max(slot.gap_max_ns, cell.second_gap_max_ns_.load(std::memory_order_relaxed));
    }
  }
  // Cleared under the lock, so Snapshot never counts a second both here and in the ring.
  for (auto& c : cell.second_classes_) c.store(0, std::memory_order_relaxed);
  for (auto& b : cell.second_buckets_) b.store(0, std::memory_order_relaxed);
  cell.second_max_ns_.store(0, std::memory_order_relaxed);
  for (auto& m : cell.second_mirror_) m.store(0, std::memory_order_relaxed);
  for (auto& b : cell.second_mirror_buckets_) b.store(0, std::memory_order_relaxed);
  cell.second_mirror_max_ns_.store(0, std::memory_order_relaxed);
  for (auto& b : cell.second_first_) b.store(0, std::memory_order_relaxed);
  for (auto& b : cell.second_gap_) b.store(0, std::memory_order_relaxed);
  cell.second_first_max_ns_.store(0, std::memory_order_relaxed);
  cell.second_gap_max_ns_.store(0, std::memory_order_relaxed);
  cell.second_.store(second, std::memory_order_relaxed);
}

CallSeries::Totals CallSeries::Sum() const {
  Totals t;
  uint64_t sum_ns = 0;
  for (const auto& cell : cells_) {
    for (int c = 0; c < kNumGrpcCodes; ++c) {
      t.requests[c] += cell->requests_[c].load(std::memory_order_relaxed);
    }
    for (size_t b = 0; b < t.buckets.size(); ++b) {
      t.buckets[b] += cell->buckets_[b].load(std::memory_order_relaxed);
    }
    sum_ns += cell->sum_ns_.load(std::memory_order_relaxed);
    t.inflight += cell->inflight_.load(std::memory_order_relaxed);
    t.retries += cell->retries_.load(std::memory_order_relaxed);
    for (int r = 0; r < kNumMirrorResults; ++r) {
      t.mirror[r] += cell->mirror_results_[r].load(std::memory_order_relaxed);
    }
    t.mirror_max_difference = std::max(
        t.mirror_max_difference, cell->mirror_max_difference_.load(std::memory_order_relaxed));
    for (size_t b = 0; b < t.mirror_buckets.size(); ++b) {
      t.mirror_buckets[b] += cell->mirror_buckets_[b].load(std::memory_order_relaxed);
    }
    t.mirror_sum_seconds +=
        static_cast<double>(cell->mirror_sum_ns_.load(std::memory_order_relaxed)) / kNsPerSecond;
    for (size_t i = 0; i < t.mirror_top1.size(); ++i) {
      t.mirror_top1[i] += cell->mirror_top1_[i].load(std::memory_order_relaxed);
    }
    cell->stream_.AddTo(&t.stream);
  }
  t.sum_seconds = static_cast<double>(sum_ns) / kNsPerSecond;
  return t;
}

WindowCounts EmptyCounts(absl::Duration window) {
  WindowCounts w;
  w.window = window;
  w.buckets.assign(CallSeries::kWindowBuckets, 0);
  w.mirror_buckets.assign(CallSeries::kMirrorWindowBuckets, 0);
  w.first_buckets.assign(CallSeries::kStreamWindowBuckets, 0);
  w.gap_buckets.assign(CallSeries::kStreamWindowBuckets, 0);
  return w;
}

void WindowCounts::Add(const WindowCounts& o) {
  for (int c = 0; c < kNumCodeClasses; ++c) classes[c] += o.classes[c];
  for (size_t i = 0; i < buckets.size() && i < o.buckets.size(); ++i) buckets[i] += o.buckets[i];
  max_ns = std::max(max_ns, o.max_ns);
  for (int r = 0; r < kNumMirrorResults; ++r) mirror[r] += o.mirror[r];
  for (size_t i = 0; i < mirror_buckets.size() && i < o.mirror_buckets.size(); ++i) {
    mirror_buckets[i] += o.mirror_buckets[i];
  }
  mirror_max_ns = std::max(mirror_max_ns, o.mirror_max_ns);
  for (size_t i = 0; i < first_buckets.size() && i < o.first_buckets.size(); ++i) {
    first_buckets[i] += o.first_buckets[i];
  }
  for (size_t i = 0; i < gap_buckets.size() && i < o.gap_buckets.size(); ++i) {
    gap_buckets[i] += o.gap_buckets[i];
  }
  first_max_ns = std::max(first_max_ns, o.first_max_ns);
  gap_max_ns = std::max(gap_max_ns, o.gap_max_ns);
}

WindowCounts CallSeries::Counts(absl::Duration window, int64_t now_ns) const {
  const int64_t seconds = std::clamp<int64_t>(
      absl::ToInt64Seconds(absl::Ceil(window, absl::Seconds(1))), 1, kMaxWindowSeconds);
  const int64_t last = now_ns / kNsPerSecond;
  const int64_t first = last - seconds + 1;
  auto in_window = [&](int64_t s) { return s >= first && s <= last; };

  WindowCounts w = EmptyCounts(absl::Seconds(seconds));
  std::lock_guard<std::mutex> lock(mu_);
  for (const Slot& slot : ring_) {
    if (!in_window(slot.second)) continue;
    for (int c = 0; c < kNumCodeClasses; ++c) w.classes[c] += slot.classes[c];
    for (size_t b = 0; b < kWindowBuckets; ++b) w.buckets[b] += slot.buckets[b];
    w.max_ns = std::max(w.max_ns, slot.max_ns);
    for (int r = 0; r < kNumMirrorResults; ++r) w.mirror[r] += slot.mirror[r];
    for (size_t b = 0; b < kMirrorWindowBuckets; ++b) w.mirror_buckets[b] += slot.mirror_buckets[b];
    w.mirror_max_ns = std::max(w.mirror_max_ns, slot.mirror_max_ns);
    for (size_t b = 0; b < kStreamWindowBuckets; ++b) {
      w.first_buckets[b] += slot.first[b];
      w.gap_buckets[b] += slot.gap[b];
    }
    w.first_max_ns = std::max(w.first_max_ns, slot.first_max_ns);
    w.gap_max_ns = std::max(w.gap_max_ns, slot.gap_max_ns);
  }
  for (const auto& cell : cells_) {  // the seconds workers are still recording
    if (!in_window(cell->second_.load(std::memory_order_relaxed))) continue;
    for (int c = 0; c < kNumCodeClasses; ++c) {
      w.classes[c] += cell->second_classes_[c].load(std::memory_order_relaxed);
    }
    for (size_t b = 0; b < kWindowBuckets; ++b) {
      w.buckets[b] += cell->second_buckets_[b].load(std::memory_order_relaxed);
    }
    w.max_ns = std::max(w.max_ns, cell->second_max_ns_.load(std::memory_order_relaxed));
    for (int r = 0; r < kNumMirrorResults; ++r) {
      w.mirror[r] += cell->second_mirror_[r].load(std::memory_order_relaxed);
    }
    for (size_t b = 0; b < kMirrorWindowBuckets; ++b) {
      w.mirror_buckets[b] += cell->second_mirror_buckets_[b].load(std::memory_order_relaxed);
    }
    w.mirror_max_ns =
        std::max(w.mirror_max_ns, cell->second_mirror_max_ns_.load(std::memory_order_relaxed));
    for (size_t b = 0; b < kStreamWindowBuckets; ++b) {
      w.first_buckets[b] += cell->second_first_[b].load(std::memory_order_relaxed);
      w.gap_buckets[b] += cell->second_gap_[b].load(std::memory_order_relaxed);
    }
    w.first_max_ns =
        std::max(w.first_max_ns, cell->second_first_max_ns_.load(std::memory_order_relaxed));
    w.gap_max_ns = std::max(w.gap_max_ns, cell->second_gap_max_ns_.load(std::memory_order_relaxed));
  }
  return w;
}

WindowSnapshot Summarize(WindowCounts w) {
  using WindowBuckets = CallSeries::WindowBuckets;
  using MirrorWindowBuckets = CallSeries::MirrorWindowBuckets;
  WindowSnapshot s;
  s.window = w.window;
  s.ok = w.classes[static_cast<int>(CodeClass::kOk)];
  s.cancelled = w.classes[static_cast<int>(CodeClass::kCancelled)];
  s.client_errors = w.classes[static_cast<int>(CodeClass::kClientError)];
  s.server_errors = w.classes[static_cast<int>(CodeClass::kServerError)];
  s.requests = s.ok + s.cancelled + s.client_errors + s.server_errors;
  uint64_t count = 0;
  for (uint64_t b : w.buckets) count += b;
  auto quantile = [&](double q) {
    return absl::Nanoseconds(WindowBuckets::Quantile([&](size_t i) { return w.buckets[i]; },
                                                     w.buckets.size(), count, w.max_ns, q));
  };
  s.p50 = quantile(0.50);
  s.p95 = quantile(0.95);
  s.p99 = quantile(0.99);
  s.mirror = w.mirror;
  for (uint64_t b : w.mirror_buckets) s.mirror_timed += b;
  s.mirror_p99 = absl::Nanoseconds(MirrorWindowBuckets::Quantile(
      [&](size_t i) { return w.mirror_buckets[i]; }, w.mirror_buckets.size(), s.mirror_timed,
      w.mirror_max_ns, 0.99));
  using StreamWindowBuckets = CallSeries::StreamWindowBuckets;
  auto stream = [](const std::vector<uint64_t>& bins, uint64_t max_ns, uint64_t* timed,
                   absl::Duration* p50, absl::Duration* p95, absl::Duration* p99) {
    *timed = 0;
    for (uint64_t b : bins) *timed += b;
    for (auto [q, out] : {std::pair{0.50, p50}, {0.95, p95}, {0.99, p99}}) {
      *out = absl::Nanoseconds(StreamWindowBuckets::Quantile([&](size_t i) { return bins[i]; },
                                                             bins.size(), *timed, max_ns, q));
    }
  };
  stream(w.first_buckets, w.first_max_ns, &s.first_timed, &s.first_p50, &s.first_p95, &s.first_p99);
  stream(w.gap_buckets, w.gap_max_ns, &s.gap_timed, &s.gap_p50, &s.gap_p95, &s.gap_p99);
  s.latency_bins = std::move(w.buckets);
  s.first_bins = std::move(w.first_buckets);
  s.gap_bins = std::move(w.gap_buckets);
  s.mirror_bins = std::move(w.mirror_buckets);
  return s;
}

WindowSnapshot CallSeries::Snapshot(absl::Duration window, int64_t now_ns) const {
  return Summarize(Counts(window, now_ns));
}

}  // namespace rollout::metrics
