#include "proxy/worker.h"

#include <random>

#include "proxy/proxy_call.h"

namespace rollout::proxy {

Worker::Worker(int index, std::unique_ptr<grpc::ServerCompletionQueue> cq,
               grpc::AsyncGenericService* service, const routing::RoutingTableStore* store,
               int64_t max_message_bytes, metrics::CallMetrics* call_metrics,
               EndpointRegistry* endpoints)
    : index_(index),
      cq_(std::move(cq)),
      service_(service),
      table_cache_(store),
      upstreams_(index, max_message_bytes, endpoints),
      call_metrics_(call_metrics),
      synced_version_(table_cache_.version()),
      rng_state_(std::random_device{}() ^ (uint64_t{static_cast<uint32_t>(index)} << 32)) {
  Sync(table_cache_.Get());
}

void Worker::Sync(const routing::RoutingTable& table) {
  upstreams_.Sync(table);
  stats_.assign(table.routes().size(), {});
  for (size_t r = 0; r < table.routes().size(); ++r) {
    const auto& route = table.routes()[r];
    for (const auto& pool : table.pools()) {
      stats_[r].push_back(call_metrics_->Resolve(route.name, pool.name)->cell(index_));
    }
  }
}

Worker::~Worker() { Join(); }

void Worker::Start(int accept_depth) {
  for (int i = 0; i < accept_depth; ++i) ProxyCall::Spawn(this);
  thread_ = std::thread([this] { Run(); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::Run() {
  void* tag;
  bool ok;
  while (cq_->Next(&tag, &ok)) ProxyCall::Dispatch(tag, ok);
}

const routing::RoutingTable& Worker::CurrentTable() {
  const routing::RoutingTable& table = table_cache_.Get();
  if (table_cache_.version() != synced_version_) {
    Sync(table);
    synced_version_ = table_cache_.version();
  }
  return table;
}

absl::Status Worker::Route(const routing::CallAttributes& attrs, int64_t now_ns, Target* target) {
  absl::StatusOr<routing::RoutingTable::Decision> decision =
      CurrentTable().Decide(attrs, NextRandom());
  if (!decision.ok()) return decision.status();
  UpstreamSet::Pool* pool = upstreams_.pool(decision->pool);
  target->pool_name = pool->name;
  target->pool = pool;
  target->stats = stats_[decision->route][decision->pool];
  target->endpoint = upstreams_.Pick(pool, now_ns, NextRandom());
  if (target->endpoint == nullptr) {
    return absl::UnavailableError(UpstreamSet::DescribeUnusable(*pool, now_ns));
  }
  return absl::OkStatus();
}

}  // namespace rollout::proxy
