// EngineShared: the state every worker of one engine shares: endpoint health, and the
// concurrency limits of the listener and of each pool. Owned by the engine; workers keep a
// pointer. Every member is thread-safe.
#ifndef ROLLOUT_PROXY_ENGINE_SHARED_H_
#define ROLLOUT_PROXY_ENGINE_SHARED_H_

#include "proxy/concurrency_limit.h"
#include "proxy/endpoint_state.h"

namespace rollout::proxy {

struct EngineShared {
  EndpointRegistry endpoints;
  ConcurrencyLimit listener_limit;  // calls in flight on the data listener
  PoolLimits pool_limits;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_ENGINE_SHARED_H_
