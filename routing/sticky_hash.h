// The sticky bucket of a call: hash64(salt, key) mod 10000.
//
// The hash is fixed (FNV-1a 64 with a SplitMix64 finaliser), not absl::Hash: it must give
// the same bucket in every proxy process, across restarts, builds and machines, so that
// replicas agree on a user's pool without talking to each other.
//
// Thread-safety: a pure function.
#ifndef ROLLOUT_ROUTING_STICKY_HASH_H_
#define ROLLOUT_ROUTING_STICKY_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "routing/split_mix.h"

namespace rollout::routing {

inline constexpr uint32_t kStickyBuckets = 10000;

inline uint64_t StableHash64(absl::string_view salt, absl::string_view key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](unsigned char c) { h = (h ^ c) * 0x100000001b3ULL; };
  for (unsigned char c : salt) mix(c);
  mix(0xff);  // separates salt from key: ("ab", "c") and ("a", "bc") differ
  for (unsigned char c : key) mix(c);
  return SplitMix64Finalize(h);
}

inline uint32_t StickyBucket(absl::string_view salt, absl::string_view key) {
  return static_cast<uint32_t>(StableHash64(salt, key) % kStickyBuckets);
}

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_STICKY_HASH_H_
