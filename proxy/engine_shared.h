// EngineShared: the state every worker of one engine shares: endpoint health, the
// concurrency limits of the listener and of each pool, and the listener's connection
// counters. Owned by the engine; workers keep a
// pointer. Every member is thread-safe.
#ifndef ROLLOUT_PROXY_ENGINE_SHARED_H_
#define ROLLOUT_PROXY_ENGINE_SHARED_H_

#include <utility>
#include <vector>

#include "metrics/listener_counters.h"
#include "metrics/rejections.h"
#include "proxy/access_log.h"
#include "proxy/concurrency_limit.h"
#include "proxy/endpoint_state.h"
#include "proxy/name_resolver.h"
#include "proxy/request_sampler.h"

namespace rollout::proxy {

struct EngineShared {
  EndpointRegistry endpoints;
  ConcurrencyLimit listener_limit;  // calls in flight on the data listener
  PoolLimits pool_limits;
  metrics::ListenerCounters listener;
  // What endpoint host names stand for; null: endpoints are used as configured (the gRPC
  // library resolves them itself).
  const NameResolver* names = nullptr;
  // Where the load-test gate's samples are copied (EngineOptions::sampler); may be null.
  RequestSampler* sampler = nullptr;
  // Where calls are logged (EngineOptions::access_log); may be null.
  AccessLog* access_log = nullptr;
  int64_t busy_poll_ns = 0;  // EngineOptions::busy_poll_ns

  // Calls refused by a concurrency limit so far: the listener's (if limited) and each
  // limited pool's (Engine::Rejected).
  std::vector<metrics::Rejections> Rejected() const {
    std::vector<metrics::Rejections> out;
    if (listener_limit.max() > 0 || listener_limit.rejected() > 0) {
      out.push_back({"listener", "", listener_limit.rejected()});
    }
    for (metrics::Rejections& pool : pool_limits.Rejected()) out.push_back(std::move(pool));
    return out;
  }
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_ENGINE_SHARED_H_
