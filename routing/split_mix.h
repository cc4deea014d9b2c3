// SplitMix64: a tiny, fast, well-mixing 64-bit generator and finaliser (Steele, Lea and
// Flood). Used where a stable, seedable sequence is needed: a worker's random values for
// the weighted split, and the finaliser of the sticky hash.
//
// Thread-safety: pure functions; the caller owns the state.
#ifndef ROLLOUT_ROUTING_SPLIT_MIX_H_
#define ROLLOUT_ROUTING_SPLIT_MIX_H_

#include <cstdint>

namespace rollout::routing {

inline uint64_t SplitMix64Finalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t SplitMix64Next(uint64_t& state) {
  return SplitMix64Finalize(state += 0x9e3779b97f4a7c15ULL);
}

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_SPLIT_MIX_H_
