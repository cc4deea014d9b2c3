// H2Engine: the data plane, frame-level HTTP/2 on libnghttp2.
//
// The gRPC library's call machinery cost most of a proxied call's CPU (bench/PROFILE.md),
// so this engine forwards HTTP/2 frames instead: it never builds gRPC calls, completion-
// queue events or byte buffers; headers, DATA and trailers go from one nghttp2 session to
// the other, with flow control kept end to end (Pipe). Routing, weights, stickiness,
// overrides, model routing, concurrency limits, retries of calls that never reached a
// backend, outlier ejection, active health checks and per-version metrics are plane-
// neutral code (CallRouter, UpstreamSet, EngineShared); names are resolved off the workers
// (NameResolver).
//
// Workers: one epoll loop and thread each (H2Worker), all accepting from one listening
// socket (EPOLLEXCLUSIVE), which no other process can bind to as well.
//
// TLS is OpenSSL's, in the workers' loops: on the listener (ServerTls) and to backends
// (ClientTls, one per distinct pool setting, shared by the workers). Mirrored calls get a
// shadow stream (H2Mirror).
//
// Thread-safety: as Engine.
#ifndef ROLLOUT_PROXY_H2_H2_ENGINE_H_
#define ROLLOUT_PROXY_H2_H2_ENGINE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/engine.h"
#include "proxy/engine_shared.h"
#include "proxy/h2/h2_worker.h"
#include "proxy/h2/server_tls.h"
#include "proxy/health_checker.h"
#include "proxy/name_resolver.h"
#include "routing/routing_table_store.h"

namespace rollout::proxy::h2 {

class H2Engine final : public Engine {
 public:
  // Binds `options.listen` and starts the workers. `store` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<H2Engine>> Create(const EngineOptions& options,
                                                          const routing::RoutingTableStore* store);
  ~H2Engine() override;

  int port() const override { return port_; }
  // By address, and by configured host name (healthy if any of its addresses is).
  absl::flat_hash_map<std::string, bool> EndpointHealth() const override;
  std::vector<metrics::Rejections> Rejected() const override { return shared_.Rejected(); }
  const metrics::ListenerCounters& listener_counters() const override { return shared_.listener; }
  void SetServing(bool serving) override { serving_.store(serving, std::memory_order_relaxed); }
  void Shutdown(absl::Time deadline) override;

 private:
  H2Engine() = default;

  EngineShared shared_;
  std::atomic<bool> serving_{true};
  int listen_fd_ = -1;
  int port_ = 0;
  std::unique_ptr<ServerTls> tls_;  // null: plaintext
  ClientTlsSet client_tls_;         // for the pools with TLS
  std::unique_ptr<NameResolver> names_;
  std::unique_ptr<HealthChecker> health_checker_;
  std::vector<std::unique_ptr<H2Worker>> workers_;
  bool shut_down_ = false;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_H2_ENGINE_H_
