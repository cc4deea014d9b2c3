#include "proxy/h2/session_memory.h"

#include <cstdlib>
#include <cstring>

#include "proxy/h2/asan_poison.h"

namespace rollout::proxy::h2 {
namespace {

// Every block starts with this header; the caller's bytes follow, 16-byte aligned as
// malloc's are.
struct alignas(16) Header {
  uint32_t class_index;  // kClasses: a large block, straight from malloc
  uint32_t unused;
  size_t usable;  // bytes after the header
};
static_assert(sizeof(Header) == 16, "the header keeps malloc's alignment");

Header* HeaderOf(void* block) { return static_cast<Header*>(block) - 1; }

}  // namespace

SessionMemory::SessionMemory() {
  mem_.mem_user_data = this;
  mem_.malloc = [](size_t size, void* self) {
    return static_cast<SessionMemory*>(self)->Allocate(size);
  };
  mem_.free = [](void* block, void* self) { static_cast<SessionMemory*>(self)->Free(block); };
  mem_.calloc = [](size_t count, size_t size, void* self) -> void* {
    if (size != 0 && count > SIZE_MAX / size) return nullptr;
    void* block = static_cast<SessionMemory*>(self)->Allocate(count * size);
    if (block != nullptr) memset(block, 0, count * size);
    return block;
  };
  mem_.realloc = [](void* block, size_t size, void* self) {
    return static_cast<SessionMemory*>(self)->Reallocate(block, size);
  };
}

SessionMemory::~SessionMemory() {
  for (FreeBlock* head : free_) {
    while (head != nullptr) {
      ROLLOUT_UNPOISON(head, sizeof(FreeBlock));
      FreeBlock* next = head->next;
      free(HeaderOf(head));
      head = next;
    }
  }
}

size_t SessionMemory::ClassOf(size_t size) {
  if (size > ClassBytes(kClasses - 1)) return kClasses;  // and size + header cannot wrap
  const size_t total = size + sizeof(Header);
  if (total <= ClassBytes(0)) return 0;
  // The smallest i with total <= 32 << i: the bit length of (total - 1), less 5.
  const auto bits = static_cast<size_t>(64 - __builtin_clzll(static_cast<uint64_t>(total - 1)));
  const size_t index = bits - 5;
  return index < kClasses ? index : kClasses;
}

void* SessionMemory::Allocate(size_t size) {
  const size_t index = ClassOf(size);
  if (index < kClasses && free_[index] != nullptr) {
    FreeBlock* block = free_[index];
    ROLLOUT_UNPOISON(block, HeaderOf(block)->usable);
    free_[index] = block->next;
    --free_count_[index];
    ++reused_;
    return block;
  }
  if (index == kClasses && size > SIZE_MAX - sizeof(Header)) return nullptr;
  const size_t total = index < kClasses ? ClassBytes(index) : size + sizeof(Header);
  auto* header = static_cast<Header*>(malloc(total));
  if (header == nullptr) return nullptr;
  ++from_malloc_;
  header->class_index = static_cast<uint32_t>(index);
  header->usable = total - sizeof(Header);
  return header + 1;
}

void SessionMemory::Free(void* block) {
  if (block == nullptr) return;
  Header* header = HeaderOf(block);
  const size_t index = header->class_index;
  if (index >= kClasses || (free_count_[index] + 1) * ClassBytes(index) > kMaxFreeBytesPerClass) {
    free(header);
    return;
  }
  auto* node = static_cast<FreeBlock*>(block);
  node->next = free_[index];
  free_[index] = node;
  ++free_count_[index];
  ROLLOUT_POISON(block, header->usable);
}

void* SessionMemory::Reallocate(void* block, size_t size) {
  if (block == nullptr) return Allocate(size);
  if (size == 0) {
    Free(block);
    return nullptr;
  }
  const size_t usable = HeaderOf(block)->usable;
  if (size <= usable) return block;
  void* bigger = Allocate(size);
  if (bigger == nullptr) return nullptr;  // the old block stays the caller's, as realloc's
  memcpy(bigger, block, usable);
  Free(block);
  return bigger;
}

}  // namespace rollout::proxy::h2
