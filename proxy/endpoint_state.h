// EndpointState: what every worker knows about one backend endpoint's health, and the
// policies that change it.
//
// Two signals make an endpoint unusable:
//  - active health checks (grpc.health.v1) run by HealthChecker: after unhealthy_threshold
//    failed checks in a row it is marked unhealthy, after healthy_threshold passed checks
//    healthy again;
//  - passive outlier ejection: after N calls in a row that end UNAVAILABLE (connect
//    failures included) it is ejected for base_ejection x (times ejected), at most
//    max_ejection, unless that would eject more than max_ejection_percent of its pool.
//
// The per-call path reads two relaxed atomics (Usable) and, on success, writes only when a
// failure streak was running, so healthy traffic never writes a shared cache line.
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_PROXY_ENDPOINT_STATE_H_
#define ROLLOUT_PROXY_ENDPOINT_STATE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "routing/routing_table.h"

namespace rollout::proxy {

using OutlierPolicy = routing::OutlierSpec;

class EndpointState final {
 public:
  bool Usable(int64_t now_ns) const {
    return healthy_.load(std::memory_order_relaxed) &&
           ejected_until_ns_.load(std::memory_order_relaxed) <= now_ns;
  }
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }
  bool ejected(int64_t now_ns) const {
    return ejected_until_ns_.load(std::memory_order_relaxed) > now_ns;
  }

  // A call ended: `failed` when it ended UNAVAILABLE. Returns true if this ejected the
  // endpoint. `pool` is the endpoint's pool (for the ejection budget). Reads the clock only
  // for a failure, so a successful call pays nothing but one relaxed load.
  bool RecordCall(bool failed, const OutlierPolicy& policy,
                  const std::vector<EndpointState*>& pool);

  // Called by the health checker.
  void SetHealthy(bool healthy) { healthy_.store(healthy, std::memory_order_relaxed); }

 private:
  std::atomic<bool> healthy_{true};
  std::atomic<int> failure_streak_{0};
  std::atomic<int> ejections_{0};
  std::atomic<int64_t> ejected_until_ns_{0};
};

// The EndpointState of every address, shared by all workers. States live as long as the
// registry, so pointers to them never dangle.
class EndpointRegistry final {
 public:
  EndpointState* Get(const std::string& address);

 private:
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<EndpointState>> states_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_ENDPOINT_STATE_H_
