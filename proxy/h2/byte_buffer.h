// ByteBuffer: a growable run of bytes whose first kInlineBytes live inside the object, so
// that a small header block or message costs no allocation, and whose appends are one
// memcpy. Emptying it (Clear) keeps its heap capacity for the next bytes; destroying it
// frees it. Used by HeaderBlock and Pipe.
//
//   ByteBuffer b;
//   b.Append(p, n);          // memcpy; grows ×2 on the heap past the inline bytes
//   b.EraseFront(k);         // memmove of what is left
//
// Thread-safety: none (one owner thread).
#ifndef ROLLOUT_PROXY_H2_BYTE_BUFFER_H_
#define ROLLOUT_PROXY_H2_BYTE_BUFFER_H_

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace rollout::proxy::h2 {

class ByteBuffer final {
 public:
  static constexpr size_t kInlineBytes = 512;

  ByteBuffer() = default;
  ~ByteBuffer() {
    if (on_heap()) free(data_);
  }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&& other) noexcept { TakeFrom(&other); }
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    if (this != &other) {
      if (on_heap()) free(data_);
      data_ = inline_;
      capacity_ = kInlineBytes;
      TakeFrom(&other);
    }
    return *this;
  }

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The bytes are in a heap block (which a move hands over without moving it).
  bool on_heap() const { return data_ != inline_; }

  void Append(const void* bytes, size_t n) {
    if (n == 0) return;
    if (size_ + n > capacity_) Grow(size_ + n);
    memcpy(data_ + size_, bytes, n);
    size_ += n;
  }
  // Makes `n` more bytes part of the buffer and returns where they start, for the caller
  // to fill: several pieces cost one capacity check.
  char* Extend(size_t n) {
    if (size_ + n > capacity_) Grow(size_ + n);
    char* at = data_ + size_;
    size_ += n;
    return at;
  }
  void Clear() { size_ = 0; }
  // Drops the first `n` bytes (n <= size()).
  void EraseFront(size_t n) {
    if (n < size_) memmove(data_, data_ + n, size_ - n);
    size_ = n < size_ ? size_ - n : 0;
  }

 private:
  void TakeFrom(ByteBuffer* other) {
    if (other->on_heap()) {
      data_ = other->data_;
      capacity_ = other->capacity_;
      other->data_ = other->inline_;
      other->capacity_ = kInlineBytes;
    } else if (other->size_ > 0) {
      memcpy(inline_, other->inline_, other->size_);
    }
    size_ = other->size_;
    other->size_ = 0;
  }
  void Grow(size_t needed) {
    size_t capacity = capacity_ * 2;
    while (capacity < needed) capacity *= 2;
    char* bigger = static_cast<char*>(on_heap() ? realloc(data_, capacity) : malloc(capacity));
    if (bigger == nullptr) throw std::bad_alloc();
    if (!on_heap()) memcpy(bigger, inline_, size_);
    data_ = bigger;
    capacity_ = capacity;
  }

  char* data_ = inline_;
  size_t size_ = 0;
  size_t capacity_ = kInlineBytes;
  char inline_[kInlineBytes];
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_BYTE_BUFFER_H_
