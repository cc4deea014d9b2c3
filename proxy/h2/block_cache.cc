#include "proxy/h2/block_cache.h"

#include <new>

#include "proxy/h2/asan_poison.h"

namespace rollout::proxy::h2 {

BlockCache::BlockCache(size_t block_bytes, size_t max_blocks)
    : block_bytes_(block_bytes < sizeof(Node) ? sizeof(Node) : block_bytes),
      max_blocks_(max_blocks) {}

BlockCache::~BlockCache() {
  while (head_ != nullptr) {
    ROLLOUT_UNPOISON(head_, block_bytes_);
    Node* next = head_->next;
    ::operator delete(head_);
    head_ = next;
  }
}

void* BlockCache::Get(size_t size) {
  if (size != block_bytes_ || head_ == nullptr) return ::operator new(size);
  Node* node = head_;
  ROLLOUT_UNPOISON(node, block_bytes_);
  head_ = node->next;
  --count_;
  return node;
}

void BlockCache::Put(void* block, size_t size) {
  if (block == nullptr) return;
  if (size != block_bytes_ || count_ >= max_blocks_) return ::operator delete(block);
  auto* node = static_cast<Node*>(block);
  node->next = head_;
  head_ = node;
  ++count_;
  ROLLOUT_POISON(block, block_bytes_);
}

}  // namespace rollout::proxy::h2
