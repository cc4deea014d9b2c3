// ROLLOUT_POISON / ROLLOUT_UNPOISON: mark memory that a cache keeps for reuse as not to be
// touched, so that under AddressSanitizer a use after free of a recycled block is still
// reported (SessionMemory, BlockCache). Without ASan they compile to nothing.
#ifndef ROLLOUT_PROXY_H2_ASAN_POISON_H_
#define ROLLOUT_PROXY_H2_ASAN_POISON_H_

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ROLLOUT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ROLLOUT_ASAN 1
#endif

#ifdef ROLLOUT_ASAN
#include <sanitizer/asan_interface.h>
#define ROLLOUT_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define ROLLOUT_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ROLLOUT_POISON(p, n) ((void)(p), (void)(n))
#define ROLLOUT_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif  // ROLLOUT_PROXY_H2_ASAN_POISON_H_
