// CallMetrics: the registry of CallSeries, one per (route, pool) ever routed to.
//
// Workers resolve the series of every (route, pool) pair when they adopt a routing table,
// and keep the Cell pointers; a call never looks up a label. Series live as long as the
// registry, so counters keep counting across table changes (a weight change does not reset
// them) and a Cell pointer never dangles.
//
//   CallMetrics metrics(/*workers=*/2);
//   CallSeries* s = metrics.Resolve("infer", "v2");
//   std::optional<WindowSnapshot> w = metrics.Snapshot("infer", "v2", absl::Seconds(30));
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_METRICS_CALL_METRICS_H_
#define ROLLOUT_METRICS_CALL_METRICS_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "metrics/call_series.h"

namespace rollout::metrics {

class CallMetrics final {
 public:
  explicit CallMetrics(int workers) : workers_(workers) {}

  int workers() const { return workers_; }

  // The series for (route, pool), created on first use. Never null; stable for the
  // registry's life.
  CallSeries* Resolve(absl::string_view route, absl::string_view pool);

  // Every series, ordered by (route, pool).
  std::vector<const CallSeries*> All() const;

  // The sliding window of (route, pool), or nullopt if no call was ever routed there.
  std::optional<WindowSnapshot> Snapshot(absl::string_view route, absl::string_view pool,
                                         absl::Duration window,
                                         int64_t now_ns = MonotonicNowNs()) const;

 private:
  const int workers_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<CallSeries>> series_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_CALL_METRICS_H_
