#include "routing/weighted_split.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rollout::routing {

absl::StatusOr<WeightedSplit> WeightedSplit::Create(absl::Span<const Arm> arms) {
  if (arms.empty()) return absl::InvalidArgumentError("split: must list at least one pool");
  double total = 0;
  for (size_t i = 0; i < arms.size(); ++i) {
    const double w = arms[i].weight;
    if (!std::isfinite(w)) {
      return absl::InvalidArgumentError(absl::StrCat("split[", i, "].weight: must be a number"));
    }
    if (w < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("split[", i, "].weight: negative weight ", w, " (weights must be >= 0)"));
    }
    total += w;
  }
  if (total <= 0) {
    return absl::InvalidArgumentError("split: all weights are zero; at least one must be > 0");
  }
  // Rounding the running sum (not each weight) keeps the ranges contiguous and makes the
  // last one end exactly at kResolution.
  std::vector<size_t> pools;
  std::vector<uint32_t> cumulative;
  pools.reserve(arms.size());
  cumulative.reserve(arms.size());
  double running = 0;
  for (const Arm& arm : arms) {
    running += arm.weight;
    pools.push_back(arm.pool);
    cumulative.push_back(static_cast<uint32_t>(std::llround(running / total * kResolution)));
  }
  cumulative.back() = kResolution;
  return WeightedSplit(std::move(pools), std::move(cumulative));
}

}  // namespace rollout::routing
