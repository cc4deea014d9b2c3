// BlockCache: recycles the memory of objects of one size on the thread that frees them, so
// that a per-call object (H2Call) costs no malloc once a worker is warm. A class gives itself
// a cache in its operator new and delete:
//
//   void* H2Call::operator new(size_t size) { return Cache().Get(size); }
//   void H2Call::operator delete(void* p) { Cache().Put(p); }
//   static BlockCache& Cache() { thread_local BlockCache cache(sizeof(H2Call), 256); ... }
//
// The cache keeps at most `max_blocks` free blocks; more go back to malloc, and so does
// every block when the thread exits. A block freed on another thread than the one that took
// it goes to that thread's cache, which is still right (they are all malloc's blocks).
// Under AddressSanitizer a cached block is poisoned, so a use after delete is still found.
//
// Thread-safety: one instance per thread (thread_local).
#ifndef ROLLOUT_PROXY_H2_BLOCK_CACHE_H_
#define ROLLOUT_PROXY_H2_BLOCK_CACHE_H_

#include <cstddef>

namespace rollout::proxy::h2 {

class BlockCache {
 public:
  BlockCache(size_t block_bytes, size_t max_blocks);
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // A block of `size` bytes: the cache's size, else straight from operator new. Throws
  // std::bad_alloc as operator new does.
  void* Get(size_t size);
  // Takes back a block from Get() with the same `size`.
  void Put(void* block, size_t size);

  size_t cached() const { return count_; }

 private:
  struct Node {
    Node* next;
  };
  const size_t block_bytes_;
  const size_t max_blocks_;
  Node* head_ = nullptr;
  size_t count_ = 0;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_BLOCK_CACHE_H_
