// WeightedSplit: picks one arm of a route's split by weight from a random value.
//
// Weights may be integers or fractions; they are normalised to parts per million, so the
// resolution is 0.0001% (well under the 0.01% the config promises). The random value is
// passed in, which makes every pick reproducible in tests:
//
//   auto split = WeightedSplit::Create({{0, 90.0}, {1, 10.0}});
//   size_t pool = split->Pick(rng());   // 0 about 90% of the time
//
// Thread-safety: immutable after Create(); Pick() may be called from any thread.
#ifndef ROLLOUT_ROUTING_WEIGHTED_SPLIT_H_
#define ROLLOUT_ROUTING_WEIGHTED_SPLIT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace rollout::routing {

class WeightedSplit final {
 public:
  static constexpr uint32_t kResolution = 1'000'000;  // parts per million

  struct Arm {
    size_t pool;    // index of the pool in the routing table
    double weight;  // >= 0; only ratios matter
  };

  // Fails with INVALID_ARGUMENT on an empty split, a negative or non-finite weight, or when
  // every weight is zero. Messages name the offending arm as `split[i].weight`.
  static absl::StatusOr<WeightedSplit> Create(absl::Span<const Arm> arms);

  // Returns the pool index of the arm that `random` falls into.
  size_t Pick(uint64_t random) const {
    const uint32_t point = static_cast<uint32_t>(random % kResolution);
    for (size_t i = 0; i + 1 < cumulative_.size(); ++i) {
      if (point < cumulative_[i]) return pools_[i];
    }
    return pools_.back();
  }

  // The share of traffic, in parts per million, that arm `i` receives.
  uint32_t PartsPerMillion(size_t i) const {
    return cumulative_[i] - (i == 0 ? 0 : cumulative_[i - 1]);
  }
  size_t size() const { return pools_.size(); }
  size_t pool(size_t i) const { return pools_[i]; }
  // The arm with the largest share (the first of equals): the route's serving pool.
  size_t Largest() const {
    size_t best = 0;
    for (size_t i = 1; i < size(); ++i) {
      if (PartsPerMillion(i) > PartsPerMillion(best)) best = i;
    }
    return best;
  }

 private:
  WeightedSplit(std::vector<size_t> pools, std::vector<uint32_t> cumulative)
      : pools_(std::move(pools)), cumulative_(std::move(cumulative)) {}

  std::vector<size_t> pools_;
  // cumulative_[i] = end (exclusive) of arm i's range in [0, kResolution); last == kResolution.
  std::vector<uint32_t> cumulative_;
};

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_WEIGHTED_SPLIT_H_
