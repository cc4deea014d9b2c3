// Rejections: calls refused by a concurrency limit, as the engine counts them and
// rollout_proxy_rejected_requests_total{limit,pool} exports them.
#ifndef ROLLOUT_METRICS_REJECTIONS_H_
#define ROLLOUT_METRICS_REJECTIONS_H_

#include <cstdint>
#include <string>

namespace rollout::metrics {

struct Rejections {
  std::string limit;  // "listener" or "pool"
  std::string pool;   // empty for the listener
  uint64_t rejected = 0;
};

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_REJECTIONS_H_
