// SessionMemory: the allocator a worker hands to its nghttp2 sessions (nghttp2_mem), so
// that the per-stream and per-header allocations of libnghttp2 come from free lists of
// the worker's own instead of malloc. A proxied call opens two streams, and each brings a
// stream object, header buffers, outbound items and HPACK entries; on glibc's malloc that
// was a sixth of the proxy's CPU (bench/PROFILE.md).
//
// Blocks are sized in classes of 32 bytes to 4 KiB (powers of two, a 16-byte header
// included); larger ones go to malloc. A class keeps at most kMaxFreeBytesPerClass of
// free blocks, so a burst's memory goes back to malloc once it is over: what the worker
// holds beyond its live streams is bounded by about 8 × 256 KiB.
//
//   SessionMemory memory;                    // lives longer than every session given it
//   nghttp2_session_server_new3(&session, callbacks, user_data, option, memory.mem());
//
// Thread-safety: none. One worker thread allocates and frees; every session given mem()
// must be created, used and deleted on that thread.
#ifndef ROLLOUT_PROXY_H2_SESSION_MEMORY_H_
#define ROLLOUT_PROXY_H2_SESSION_MEMORY_H_

#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace rollout::proxy::h2 {

class SessionMemory {
 public:
  static constexpr size_t kClasses = 8;  // 32 B .. 4 KiB
  static constexpr size_t kMaxFreeBytesPerClass = 256 * 1024;

  SessionMemory();
  ~SessionMemory();
  SessionMemory(const SessionMemory&) = delete;
  SessionMemory& operator=(const SessionMemory&) = delete;

  nghttp2_mem* mem() { return &mem_; }

  void* Allocate(size_t size);
  void Free(void* block);
  void* Reallocate(void* block, size_t size);

  // What the allocator did so far, for tests and the profile: blocks served from a free
  // list, and blocks that had to come from malloc.
  uint64_t reused() const { return reused_; }
  uint64_t from_malloc() const { return from_malloc_; }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  // Index of the smallest class whose blocks hold `size` bytes after the header, or
  // kClasses when none does.
  static size_t ClassOf(size_t size);
  static size_t ClassBytes(size_t index) { return size_t{32} << index; }

  nghttp2_mem mem_;
  std::array<FreeBlock*, kClasses> free_{};
  std::array<size_t, kClasses> free_count_{};
  uint64_t reused_ = 0;
  uint64_t from_malloc_ = 0;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_SESSION_MEMORY_H_
