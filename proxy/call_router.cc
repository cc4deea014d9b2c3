#include "proxy/call_router.h"

#include <random>
#include <utility>

namespace rollout::proxy {

CallRouter::CallRouter(int worker_index, const routing::RoutingTableStore* store,
                       metrics::CallMetrics* call_metrics, EngineShared* shared,
                       UpstreamSet::LinkFactory link_factory)
    : index_(worker_index),
      table_cache_(store),
      upstreams_(shared, std::move(link_factory)),
      call_metrics_(call_metrics),
      synced_version_(table_cache_.version()),
      rng_state_(std::random_device{}() ^ (uint64_t{static_cast<uint32_t>(worker_index)} << 32)) {
  Sync(table_cache_.Get());
}

void CallRouter::Sync(const routing::RoutingTable& table) {
  upstreams_.Sync(table);
  stats_.assign(table.routes().size(), {});
  for (size_t r = 0; r < table.routes().size(); ++r) {
    const auto& route = table.routes()[r];
    for (const auto& pool : table.pools()) {
      stats_[r].push_back(call_metrics_->Resolve(route.name, pool.name)->cell(index_));
    }
  }
}

const routing::RoutingTable& CallRouter::CurrentTable() {
  const routing::RoutingTable& table = table_cache_.Get();
  if (table_cache_.version() != synced_version_ || upstreams_.NamesChanged()) {
    Sync(table);
    synced_version_ = table_cache_.version();
  }
  return table;
}

absl::Status CallRouter::Route(const routing::CallAttributes& attrs, int64_t now_ns,
                               MirrorBudget mirrors, Target* target, bool* needs_model) {
  const routing::RoutingTable& table = CurrentTable();
  absl::StatusOr<routing::RoutingTable::Pick> decision = table.Decide(attrs, NextRandom());
  if (!decision.ok()) return decision.status();
  *needs_model = decision->needs_model;
  if (*needs_model) return absl::OkStatus();
  UpstreamSet::Pool* pool = upstreams_.pool(decision->pool);
  target->pool = pool;
  target->route = &table.routes()[decision->route].name;
  target->stats = stats_[decision->route][decision->pool];
  target->mirror_endpoint = nullptr;
  if (decision->mirror) {
    const auto& route = table.routes()[decision->route];
    metrics::CallSeries::Cell* mirror_stats = stats_[decision->route][route.mirror_pool];
    if (mirrors.closed || mirrors.inflight >= route.mirror_max_inflight) {
      mirror_stats->OnMirror(metrics::MirrorResult::kDropped, 0, now_ns);  // over budget
    } else if (UpstreamSet::Endpoint* e =
                   upstreams_.Pick(upstreams_.pool(route.mirror_pool), now_ns, NextRandom())) {
      target->mirror_endpoint = e;
      target->mirror_pool = upstreams_.pool(route.mirror_pool);
      target->mirror_stats = mirror_stats;
      target->mirror_tolerance = route.mirror_tolerance;
    } else {
      mirror_stats->OnMirror(metrics::MirrorResult::kError, 0,
                             now_ns);  // no usable mirror endpoint
    }
  }
  target->endpoint = upstreams_.Pick(pool, now_ns, NextRandom());
  if (target->endpoint == nullptr) {
    return absl::UnavailableError(UpstreamSet::DescribeUnusable(*pool, now_ns));
  }
  return absl::OkStatus();
}

}  // namespace rollout::proxy
