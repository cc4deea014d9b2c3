// Worker: one completion queue, one thread, and everything a call needs on that thread.
//
// Every event of a call (the server side and its upstream client call) arrives on the
// worker's queue, so a call's state is only touched by one thread and needs no lock. The
// worker routes with its own CallRouter (its view of the routing table, its own channels,
// its own random number generator); nothing on the per-call path is shared with another
// worker.
//
// Thread-safety: Start/ShutdownQueue/Join from the owning engine; Route() and the accessors
// only from the worker's own thread (that is, from ProxyCall handlers).
#ifndef ROLLOUT_PROXY_WORKER_H_
#define ROLLOUT_PROXY_WORKER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server_builder.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "metrics/call_metrics.h"
#include "proxy/call_router.h"
#include "proxy/engine_shared.h"
#include "routing/routing_table_store.h"

namespace rollout::proxy {

class Worker final {
 public:
  using Target = CallRouter::Target;

  Worker(int index, std::unique_ptr<grpc::ServerCompletionQueue> cq,
         grpc::AsyncGenericService* service, const routing::RoutingTableStore* store,
         int64_t max_message_bytes, metrics::CallMetrics* call_metrics, EngineShared* shared);
  ~Worker();

  // Posts `accept_depth` pending RequestCalls and starts the thread.
  void Start(int accept_depth);
  // After the server has shut down: drain the queue and let the thread exit.
  void ShutdownQueue() { cq_->Shutdown(); }
  void Join();

  // ProxyCall objects alive on this worker (accepted or waiting to be). The queue may only
  // be shut down once this is zero: a call whose server half has ended can still have
  // upstream work that starts new operations on the queue.
  void CallCreated() { live_calls_.fetch_add(1, std::memory_order_relaxed); }
  void CallDestroyed() { live_calls_.fetch_sub(1, std::memory_order_release); }
  int live_calls() const { return live_calls_.load(std::memory_order_acquire); }

  grpc::ServerCompletionQueue* cq() { return cq_.get(); }
  grpc::AsyncGenericService* service() { return service_; }

  // Routes a call (see CallRouter::Route), with this worker's mirror budget.
  absl::Status Route(const routing::CallAttributes& attrs, int64_t now_ns, Target* target,
                     bool* needs_model) {
    return router_.Route(attrs, now_ns,
                         {mirrors_inflight_, mirrors_closed_.load(std::memory_order_relaxed)},
                         target, needs_model);
  }
  UpstreamSet::Endpoint* PickAnother(UpstreamSet::Pool* pool, const UpstreamSet::Endpoint* failed,
                                     int64_t now_ns) {
    return router_.PickAnother(pool, failed, now_ns);
  }

  const UpstreamSet& upstreams() const { return router_.upstreams(); }
  ConcurrencyLimit& listener_limit() { return shared_->listener_limit; }
  // Mirror calls on this worker. They count as live calls, and Shutdown cancels them.
  int mirrors_inflight() const { return mirrors_inflight_; }
  void MirrorStarted(grpc::ClientContext* ctx);
  void MirrorEnded(grpc::ClientContext* ctx);
  // Any thread: cancels every mirror call still running (used while shutting down).
  void CancelMirrors();

 private:
  void Run();

  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  grpc::AsyncGenericService* service_;
  EngineShared* shared_;
  CallRouter router_;
  std::atomic<int> live_calls_{0};
  int mirrors_inflight_ = 0;
  std::atomic<bool> mirrors_closed_{false};  // set by CancelMirrors: start no more
  std::mutex mirrors_mu_;                    // uncontended but for CancelMirrors at shutdown
  absl::flat_hash_set<grpc::ClientContext*> mirrors_ ABSL_GUARDED_BY(mirrors_mu_);
  std::thread thread_;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_WORKER_H_
