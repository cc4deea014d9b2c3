#include "proxy/engine.h"

namespace rollout::proxy {

absl::Status ValidateEngineOptions(const EngineOptions& options) {
  if (options.workers < 1) return absl::InvalidArgumentError("workers: must be at least 1");
  if (options.call_metrics == nullptr || options.call_metrics->workers() < options.workers) {
    return absl::InvalidArgumentError("call_metrics: needs a cell for every worker");
  }
  if (options.access_log != nullptr && options.access_log->workers() < options.workers) {
    return absl::InvalidArgumentError("access_log: needs a shard for every worker");
  }
  if (options.max_concurrent_calls < 0) {
    return absl::InvalidArgumentError("max_concurrent_calls: must be >= 0 (0: no limit)");
  }
  return absl::OkStatus();
}

}  // namespace rollout::proxy
