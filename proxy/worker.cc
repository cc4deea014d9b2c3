#include "proxy/worker.h"

#include "proxy/completion_tag.h"
#include "proxy/proxy_call.h"

namespace rollout::proxy {

Worker::Worker(int index, std::unique_ptr<grpc::ServerCompletionQueue> cq,
               grpc::AsyncGenericService* service, const routing::RoutingTableStore* store,
               int64_t max_message_bytes, metrics::CallMetrics* call_metrics, EngineShared* shared)
    : cq_(std::move(cq)),
      service_(service),
      shared_(shared),
      router_(index, store, call_metrics, max_message_bytes, shared) {}

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

}  // namespace rollout::proxy
