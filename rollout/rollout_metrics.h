// The rollout engine's Prometheus families, added to the proxy's scrape:
//   rollout_proxy_rollout_step{route}         gauge: the step the route's latest rollout is at
//                                             (1-based; canary 1..N, blue_green 1 preview,
//                                             2 switched)
//   rollout_proxy_rollout_phase{route,phase}  gauge: 1 for the current phase, 0 for the
//                                             others (progressing, paused, rollback_window,
//                                             concluded, promoted, aborted)
// Only routes that have had a rollout appear.
//
// Thread-safety: thread-safe (reads RolloutEngine::Gauges()).
#ifndef ROLLOUT_ROLLOUT_ROLLOUT_METRICS_H_
#define ROLLOUT_ROLLOUT_ROLLOUT_METRICS_H_

#include <prometheus/metric_family.h>

#include <vector>

#include "rollout/rollout_engine.h"

namespace rollout::control {

std::vector<prometheus::MetricFamily> RolloutFamilies(const RolloutEngine& engine);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_ROLLOUT_METRICS_H_
