#include "proxy/endpoint_state.h"

#include <algorithm>

#include "metrics/call_series.h"

namespace rollout::proxy {

bool EndpointState::RecordCall(bool failed, const OutlierPolicy& policy,
                               const std::vector<EndpointState*>& pool) {
  if (!failed) {
    if (failure_streak_.load(std::memory_order_relaxed) != 0) {
      failure_streak_.store(0, std::memory_order_relaxed);
    }
    return false;
  }
  const int streak = failure_streak_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (policy.consecutive_failures <= 0 || streak < policy.consecutive_failures) return false;
  const int64_t now_ns = metrics::MonotonicNowNs();
  if (ejected(now_ns)) return false;
  int ejected_now = 0;
  for (const EndpointState* e : pool) ejected_now += e->ejected(now_ns);
  if ((ejected_now + 1) * 100 > policy.max_ejection_percent * static_cast<int>(pool.size())) {
    return false;  // the budget would be exceeded: keep serving from it
  }
  const int times = ejections_.fetch_add(1, std::memory_order_relaxed) + 1;
  const absl::Duration length = std::min(policy.base_ejection * times, policy.max_ejection);
  ejected_until_ns_.store(now_ns + absl::ToInt64Nanoseconds(length), std::memory_order_relaxed);
  failure_streak_.store(0, std::memory_order_relaxed);
  return true;
}

EndpointState* EndpointRegistry::Get(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& state = states_[address];
  if (state == nullptr) state = std::make_unique<EndpointState>();
  return state.get();
}

}  // namespace rollout::proxy
