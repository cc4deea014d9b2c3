#include "proxy/concurrency_limit.h"

namespace rollout::proxy {

ConcurrencyLimit* PoolLimits::Get(const std::string& pool) {
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<ConcurrencyLimit>& limit = limits_[pool];
  if (limit == nullptr) limit = std::make_unique<ConcurrencyLimit>();
  return limit.get();
}

std::vector<metrics::Rejections> PoolLimits::Rejected() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<metrics::Rejections> out;
  for (const auto& [pool, limit] : limits_) {
    if (limit->max() > 0 || limit->rejected() > 0) {
      out.push_back({"pool", pool, limit->rejected()});
    }
  }
  return out;
}

}  // namespace rollout::proxy
