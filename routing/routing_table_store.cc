#include "routing/routing_table_store.h"

namespace rollout::routing {

RoutingTableStore::RoutingTableStore(std::shared_ptr<const RoutingTable> initial)
    : table_(std::move(initial)) {}

void RoutingTableStore::Publish(std::shared_ptr<const RoutingTable> table) {
  std::atomic_store_explicit(&table_, std::move(table), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const RoutingTable> RoutingTableStore::Current() const {
  return std::atomic_load_explicit(&table_, std::memory_order_acquire);
}

}  // namespace rollout::routing
