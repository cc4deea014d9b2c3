#include "metrics/call_metrics.h"

namespace rollout::metrics {

CallSeries* CallMetrics::Resolve(absl::string_view route, absl::string_view pool) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = series_[{std::string(route), std::string(pool)}];
  if (slot == nullptr) {
    slot = std::make_unique<CallSeries>(std::string(route), std::string(pool), workers_);
  }
  return slot.get();
}

std::vector<const CallSeries*> CallMetrics::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const CallSeries*> all;
  all.reserve(series_.size());
  for (const auto& [key, series] : series_) all.push_back(series.get());
  return all;
}

std::optional<WindowSnapshot> CallMetrics::Snapshot(absl::string_view route, absl::string_view pool,
                                                    absl::Duration window, int64_t now_ns) const {
  const CallSeries* series = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = series_.find({std::string(route), std::string(pool)});
    if (it == series_.end()) return std::nullopt;
    series = it->second.get();
  }
  return series->Snapshot(window, now_ns);
}

}  // namespace rollout::metrics
