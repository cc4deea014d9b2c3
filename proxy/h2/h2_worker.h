// H2Worker: one thread with one epoll loop, which accepts client connections from the
// shared listening socket (EPOLLEXCLUSIVE, so one worker wakes per connection), runs their
// calls, and keeps its own connections to every backend endpoint. It is the connections'
// EventLoop and the calls' CallContext: they see it only through those interfaces. A call, its
// client stream and its backend stream all live on one worker, so nothing on the per-call path
// takes a lock or touches another worker's memory.
//
// Each loop turn: epoll_wait, read every ready socket into nghttp2, then flush every
// connection that has something to send (one send() each), then delete closed
// connections. Every 100 ms it also times out stuck connects and checks each client
// connection's clocks (handshake, header block, idle).
//
// Accepting: past `max_connections` over all workers a new connection is closed at once;
// when accept() fails for want of file descriptors (or memory), the worker stops watching
// the listening socket for a while instead of spinning on it. Both are counted.
//
// Shutdown (BeginShutdown, from any thread): stop accepting, GOAWAY every client
// connection, end every Health/Watch stream, let calls run until the deadline, then reset
// what is left and exit.
#ifndef ROLLOUT_PROXY_H2_H2_WORKER_H_
#define ROLLOUT_PROXY_H2_H2_WORKER_H_

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "metrics/call_metrics.h"
#include "metrics/listener_counters.h"
#include "proxy/call_router.h"
#include "proxy/engine_shared.h"
#include "proxy/h2/call_context.h"
#include "proxy/h2/client_tls.h"
#include "proxy/h2/deadline_list.h"
#include "proxy/h2/downstream_connection.h"
#include "proxy/h2/h2_mirror.h"
#include "proxy/h2/server_tls.h"
#include "proxy/h2/session_memory.h"
#include "proxy/h2/upstream_connection.h"
#include "routing/connection_limits.h"
#include "routing/routing_table_store.h"

namespace rollout::proxy::h2 {

class H2Worker final : public CallContext {
 public:
  H2Worker(int index, int listen_fd, const routing::RoutingTableStore* store,
           int64_t max_message_bytes, const routing::ConnectionLimits& limits, ServerTls* tls,
           ClientTlsSet* client_tls, metrics::CallMetrics* call_metrics, EngineShared* shared,
           const std::atomic<bool>* serving);
  ~H2Worker();

  void Start();
  // Any thread: begins the drain described above.
  void BeginShutdown(absl::Time deadline);
  void Join();

  // Any thread.
  const UpstreamSet& upstreams() const { return router_.upstreams(); }

  // EventLoop (worker thread only).
  void Watch(H2Connection* conn, uint32_t events) override;
  void SetEvents(H2Connection* conn, uint32_t events) override;
  void MarkDirty(H2Connection* conn) override { dirty_.push_back(conn); }
  void Reap(H2Connection* conn) override;
  uint8_t* read_buffer() override { return read_buffer_.get(); }
  nghttp2_mem* session_memory() override { return session_memory_.mem(); }
  int64_t now_ns() const override { return now_ns_; }

  // CallContext (worker thread only).
  CallRouter& router() override { return router_; }
  ConcurrencyLimit& listener_limit() override { return shared_->listener_limit; }
  int64_t max_message_bytes() const override { return max_message_bytes_; }
  const routing::ConnectionLimits& limits() const override { return limits_; }
  metrics::ListenerCounters& listener_counters() override { return shared_->listener; }
  bool serving() const override { return serving_->load(std::memory_order_relaxed); }
  absl::flat_hash_set<H2Call*>& health_watches() override { return health_watches_; }
  DeadlineList<H2Call>& deadlines() override { return deadlines_; }
  CallRouter::MirrorBudget mirror_budget() const override { return {mirrors_inflight_, draining_}; }
  void MirrorStarted(H2Mirror* mirror) override;
  void MirrorEnded(H2Mirror* mirror) override;
  size_t& mirror_bytes() override { return mirror_bytes_; }
  RequestSampler* sampler() override { return shared_->sampler; }
  AccessLog::Shard* access_log() override { return access_log_; }

 private:
  void Run();
  // epoll_wait for up to `wait_ms`; with busy_poll, after a turn that had events, polls
  // without sleeping that long first.
  int Wait(epoll_event* events, int max_events, int wait_ms);
  void Accept();
  // Stops watching the listening socket until now + `for_ns` (accept() failed).
  void PauseAccept(int64_t for_ns);
  void WatchListener(bool on);
  void FlushDirty();
  void Tick(int64_t now_ns);
  void StartDrain();

  // First, so that it is destroyed last: every session of the worker frees into it.
  SessionMemory session_memory_;
  const int listen_fd_;
  const int64_t max_message_bytes_;
  const routing::ConnectionLimits limits_;
  ServerTls* const tls_;  // null: plaintext
  EngineShared* const shared_;
  const std::atomic<bool>* const serving_;
  AccessLog::Shard* const access_log_;  // null: no access log
  CallRouter router_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unique_ptr<uint8_t[]> read_buffer_;
  absl::flat_hash_set<H2Connection*> connections_;  // every live connection, owned
  std::vector<DownstreamConnection*> clients_;      // the client connections among them
  std::vector<H2Connection*> dirty_;
  absl::flat_hash_set<H2Call*> health_watches_;
  DeadlineList<H2Call> deadlines_;
  CallList<H2Mirror> mirrors_;
  int mirrors_inflight_ = 0;
  size_t mirror_bytes_ = 0;
  bool last_serving_ = true;  // what health_watches_ were last told
  std::vector<H2Connection*> graveyard_;
  std::atomic<bool> shutdown_{false};
  std::atomic<int64_t> deadline_ns_{0};  // on metrics::MonotonicNowNs()
  bool draining_ = false;
  bool watching_listener_ = false;
  int64_t accept_paused_until_ns_ = 0;
  int64_t now_ns_ = 0;
  int last_ready_ = 0;  // what the last epoll_wait returned
  std::thread thread_;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_H2_WORKER_H_
