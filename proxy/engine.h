// Engine: the part of the data plane that moves bytes between clients and backends.
//
// Routing, pools and metrics do not depend on how calls are forwarded: an engine takes a
// RoutingTableStore, serves the data listener, and for each call asks the current
// RoutingTable where it goes. The one engine is frame-level HTTP/2 (h2::H2Engine); the
// interface keeps the control plane (cmd, metrics, admin) from depending on it.
//
//   absl::StatusOr<std::unique_ptr<Engine>> engine = h2::H2Engine::Create(options, &store);
//   ... (*engine)->port() ...
//   (*engine)->Shutdown(absl::Now() + absl::Seconds(10));
//
// Thread-safety: port() may be called from any thread; Shutdown() once, from one thread.
#ifndef ROLLOUT_PROXY_ENGINE_H_
#define ROLLOUT_PROXY_ENGINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "metrics/call_metrics.h"
#include "metrics/listener_counters.h"
#include "metrics/rejections.h"
#include "proxy/access_log.h"
#include "proxy/request_sampler.h"
#include "routing/connection_limits.h"
#include "routing/resolver_spec.h"
#include "routing/tls_spec.h"

namespace rollout::proxy {

struct EngineOptions {
  std::string listen;              // host:port; port 0 picks a free port
  int workers = 1;                 // one epoll loop and thread each
  int64_t busy_poll_ns = 0;        // config busy_poll: spin on epoll this long before sleeping
  int64_t max_message_bytes = -1;  // -1: unlimited, both directions
  // Calls in flight on the listener, over all workers; the excess gets RESOURCE_EXHAUSTED
  // at once. 0: no limit. Pools have their own limits, in the routing table.
  int64_t max_concurrent_calls = 0;
  // TLS (mTLS with a client CA) on the listener; none: plaintext.
  std::optional<routing::ServerTlsSpec> tls;
  // Bounds on client connections (the frame-level engine enforces them).
  routing::ConnectionLimits connections;
  // How endpoint host names are resolved (the frame-level engine's NameResolver).
  routing::ResolverSpec resolver;
  // Where calls are recorded; must have a cell per worker and outlive the engine.
  metrics::CallMetrics* call_metrics = nullptr;
  // Where calls' requests are copied while the load-test gate samples a route; optional,
  // and must outlive the engine.
  RequestSampler* sampler = nullptr;
  // Where each call's line goes (access_log:); optional, with a shard per worker, and must
  // outlive the engine.
  AccessLog* access_log = nullptr;
};

// The checks every engine makes of its options: workers, metric cells, limits.
absl::Status ValidateEngineOptions(const EngineOptions& options);

class Engine {
 public:
  virtual ~Engine() = default;

  // The data port actually bound.
  virtual int port() const = 0;

  // Endpoint address -> whether some worker's connection to it is usable (not failing).
  virtual absl::flat_hash_map<std::string, bool> EndpointHealth() const = 0;

  // Calls refused by a concurrency limit so far: the listener's (if limited) and each
  // limited pool's.
  virtual std::vector<metrics::Rejections> Rejected() const = 0;

  // The listener's connections and the HTTP/2 abuse it refused (rollout_proxy_downstream_*
  // and rollout_proxy_http2_violations_total).
  virtual const metrics::ListenerCounters& listener_counters() const = 0;

  // The proxy answers grpc.health.v1.Health itself on the data port (service ""), for load
  // balancers and Kubernetes probes: SERVING until this is called with false (the drain).
  virtual void SetServing(bool serving) = 0;

  // Stops accepting new calls (clients get GOAWAY), lets calls in flight finish until
  // `deadline`, cancels what is left, and returns once every worker thread has exited.
  // Health reports NOT_SERVING from the start.
  virtual void Shutdown(absl::Time deadline) = 0;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_ENGINE_H_
