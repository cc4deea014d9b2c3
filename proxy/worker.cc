#include "proxy/worker.h"

#include <random>

#include "proxy/completion_tag.h"
#include "proxy/proxy_call.h"

namespace rollout::proxy {

Worker::Worker(int index, std::unique_ptr<grpc::ServerCompletionQueue> cq,
               grpc::AsyncGenericService* service, const routing::RoutingTableStore* store,
               int64_t max_message_bytes, metrics::CallMetrics* call_metrics, EngineShared* shared)
    : index_(index),
      cq_(std::move(cq)),
      service_(service),
      table_cache_(store),
      shared_(shared),
      upstreams_(index, max_message_bytes, shared),
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
  while (cq_->Next(&tag, &ok)) static_cast<const CompletionTag*>(tag)->Complete(ok);
}

void Worker::MirrorStarted(grpc::ClientContext* ctx) {
  ++mirrors_inflight_;
  CallCreated();
  std::lock_guard<std::mutex> lock(mirrors_mu_);
  mirrors_.insert(ctx);
}

void Worker::MirrorEnded(grpc::ClientContext* ctx) {
  --mirrors_inflight_;
  {
    std::lock_guard<std::mutex> lock(mirrors_mu_);
    mirrors_.erase(ctx);
  }
  CallDestroyed();
}

void Worker::CancelMirrors() {
  mirrors_closed_.store(true, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mirrors_mu_);
  for (grpc::ClientContext* ctx : mirrors_) ctx->TryCancel();
}

const routing::RoutingTable& Worker::CurrentTable() {
  const routing::RoutingTable& table = table_cache_.Get();
  if (table_cache_.version() != synced_version_) {
    Sync(table);
    synced_version_ = table_cache_.version();
  }
  return table;
}

absl::Status Worker::Route(const routing::CallAttributes& attrs, int64_t now_ns, Target* target,
                           bool* needs_model) {
  const routing::RoutingTable& table = CurrentTable();
  absl::StatusOr<routing::RoutingTable::Decision> decision = table.Decide(attrs, NextRandom());
  if (!decision.ok()) return decision.status();
  *needs_model = decision->needs_model;
  if (*needs_model) return absl::OkStatus();
  UpstreamSet::Pool* pool = upstreams_.pool(decision->pool);
  target->pool = pool;
  target->stats = stats_[decision->route][decision->pool];
  target->mirror_endpoint = nullptr;
  if (decision->mirror) {
    const auto& route = table.routes()[decision->route];
    metrics::CallSeries::Cell* mirror_stats = stats_[decision->route][route.mirror_pool];
    if (mirrors_inflight_ >= route.mirror_max_inflight ||
        mirrors_closed_.load(std::memory_order_relaxed)) {
      mirror_stats->OnMirror(metrics::MirrorResult::kDropped, 0, now_ns);  // over budget
    } else if (UpstreamSet::Endpoint* e =
                   upstreams_.Pick(upstreams_.pool(route.mirror_pool), now_ns, NextRandom())) {
      target->mirror_endpoint = e;
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
