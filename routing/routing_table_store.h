// RoutingTableStore publishes the current RoutingTable; RoutingTableCache is a worker's
// lock-free view of it.
//
// Writers (config reload, admin calls, the rollout engine) call Publish(). Each worker keeps
// a RoutingTableCache and calls Get() per call: that is one acquire load of a counter, and
// only when the counter moved does the worker take the new shared_ptr. So the per-call path
// shares no lock between workers.
//
//   RoutingTableStore store(initial_table);
//   RoutingTableCache cache(&store);           // one per worker thread
//   const RoutingTable& table = cache.Get();   // per call
//   store.Publish(next_table);                 // any thread; next Get() sees it
//
// Thread-safety: RoutingTableStore is thread-safe. A RoutingTableCache belongs to one thread.
#ifndef ROLLOUT_ROUTING_ROUTING_TABLE_STORE_H_
#define ROLLOUT_ROUTING_ROUTING_TABLE_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "routing/routing_table.h"

namespace rollout::routing {

class RoutingTableStore final {
 public:
  explicit RoutingTableStore(std::shared_ptr<const RoutingTable> initial);

  void Publish(std::shared_ptr<const RoutingTable> table);
  std::shared_ptr<const RoutingTable> Current() const;
  // Bumped by every Publish(); cheap to poll.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<const RoutingTable> table_;  // accessed only with std::atomic_load/store
  std::atomic<uint64_t> version_{0};
};

class RoutingTableCache final {
 public:
  explicit RoutingTableCache(const RoutingTableStore* store)
      : store_(store), version_(store->version()), table_(store->Current()) {}

  // The newest published table. The reference stays valid until the next Get().
  const RoutingTable& Get() {
    const uint64_t v = store_->version();
    if (v != version_) {
      version_ = v;
      table_ = store_->Current();
    }
    return *table_;
  }
  // The store version of the snapshot held; changes exactly when Get() switched tables.
  uint64_t version() const { return version_; }

 private:
  const RoutingTableStore* store_;
  uint64_t version_;
  std::shared_ptr<const RoutingTable> table_;
};

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_ROUTING_TABLE_STORE_H_
