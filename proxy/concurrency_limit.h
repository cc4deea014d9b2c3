// ConcurrencyLimit: a cap on calls in flight (per listener, or per pool across all workers),
// so that overload is refused at once with RESOURCE_EXHAUSTED instead of queueing without
// bound.
//
// A call that is admitted holds a slot until it ends. With no cap set (0), admission costs
// one relaxed load and touches no shared cache line; with a cap, one atomic add on admit
// and one on release. The cap can change while calls run (a reload): calls already in
// flight keep their slots, and new calls see the new cap.
//
//   ConcurrencyLimit limit;
//   limit.set_max(100);
//   switch (limit.TryAcquire()) {
//     case ConcurrencyLimit::kRejected: ...fail the call...
//     case ConcurrencyLimit::kAcquired: ...and later limit.Release();
//     case ConcurrencyLimit::kUnlimited: ...nothing to release...
//   }
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_PROXY_CONCURRENCY_LIMIT_H_
#define ROLLOUT_PROXY_CONCURRENCY_LIMIT_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "metrics/rejections.h"

namespace rollout::proxy {

class ConcurrencyLimit final {
 public:
  enum Admission : uint8_t { kUnlimited, kAcquired, kRejected };

  Admission TryAcquire() {
    const int64_t max = max_.load(std::memory_order_relaxed);
    if (max <= 0) return kUnlimited;
    if (inflight_.fetch_add(1, std::memory_order_relaxed) >= max) {
      inflight_.fetch_sub(1, std::memory_order_relaxed);
      rejected_.fetch_add(1, std::memory_order_relaxed);
      return kRejected;
    }
    return kAcquired;
  }
  // Only after kAcquired.
  void Release() { inflight_.fetch_sub(1, std::memory_order_relaxed); }

  // 0: no cap.
  void set_max(int64_t max) { max_.store(max, std::memory_order_relaxed); }
  int64_t max() const { return max_.load(std::memory_order_relaxed); }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> max_{0};
  std::atomic<int64_t> inflight_{0};
  std::atomic<uint64_t> rejected_{0};
};

// One call's hold on a ConcurrencyLimit, released when the slot is destroyed.
//
//   ConcurrencySlot slot;
//   if (!slot.Acquire(&limit)) ...refuse the call...
class ConcurrencySlot final {
 public:
  ConcurrencySlot() = default;
  ConcurrencySlot(const ConcurrencySlot&) = delete;
  ConcurrencySlot& operator=(const ConcurrencySlot&) = delete;
  ~ConcurrencySlot() {
    if (held_ != nullptr) held_->Release();
  }

  // False if `limit` is full (the refusal is counted); otherwise true, holding a slot when
  // the limit is capped. At most once per slot.
  bool Acquire(ConcurrencyLimit* limit) {
    const ConcurrencyLimit::Admission admission = limit->TryAcquire();
    if (admission == ConcurrencyLimit::kAcquired) held_ = limit;
    return admission != ConcurrencyLimit::kRejected;
  }

 private:
  ConcurrencyLimit* held_ = nullptr;
};

// The limit of every pool by name, shared by all workers. Limits live as long as the
// registry, so a pool's count (and its rejections) carries over a routing-table change.
class PoolLimits final {
 public:
  ConcurrencyLimit* Get(const std::string& pool);

  // Every pool ever limited (limit "pool"), by name.
  std::vector<metrics::Rejections> Rejected() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<ConcurrencyLimit>> limits_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_CONCURRENCY_LIMIT_H_
