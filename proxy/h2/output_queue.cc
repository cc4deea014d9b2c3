#include "proxy/h2/output_queue.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>

namespace rollout::proxy::h2 {
namespace {
constexpr int kMaxIov = 64;
// Past this much written but still held, EndFlush() moves the unsent bytes to the front.
constexpr size_t kCompactBytes = 256 * 1024;
}  // namespace

void OutputQueue::Append(const void* data, size_t size) {
  if (size == 0) return;
  const size_t at = out_.size();
  out_.append(static_cast<const char*>(data), size);
  queued_ += size;
  if (!segments_.empty() && segments_.size() > head_) {
    Segment& last = segments_.back();
    if (last.reference == nullptr && last.offset + last.size == at) {
      last.size += size;
      return;
    }
  }
  segments_.push_back(Segment{nullptr, at, size});
}

void OutputQueue::AppendReference(const void* data, size_t size) {
  if (size == 0) return;
  segments_.push_back(Segment{static_cast<const char*>(data), 0, size});
  queued_ += size;
  ++references_;
}

void OutputQueue::Adopt(ByteBuffer&& buffer) {
  if (references_ == 0) return;
  if (buffer.on_heap()) {
    adopted_.push_back(std::move(buffer));  // its heap block does not move
  } else {
    CopyReferences();  // the bytes live in the owner itself
  }
}

ssize_t OutputQueue::WriteTo(int fd) const {
  iovec iov[kMaxIov];
  int n = 0;
  for (size_t i = head_; i < segments_.size() && n < kMaxIov; ++i, ++n) {
    const size_t skip = i == head_ ? head_sent_ : 0;
    iov[n].iov_base = const_cast<char*>(BytesOf(segments_[i]) + skip);
    iov[n].iov_len = segments_[i].size - skip;
  }
  if (n == 0) return 0;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<size_t>(n);
  return ::sendmsg(fd, &msg, MSG_NOSIGNAL);
}

absl::string_view OutputQueue::Contiguous() const {
  if (head_ >= segments_.size()) return {};
  const Segment& s = segments_[head_];
  // Without references every segment follows the one before it in out_.
  return absl::string_view(out_.data() + s.offset + head_sent_, queued_);
}

void OutputQueue::Consume(size_t n) {
  queued_ -= std::min(n, queued_);
  while (n > 0 && head_ < segments_.size()) {
    const size_t left = segments_[head_].size - head_sent_;
    if (n < left) {
      head_sent_ += n;
      return;
    }
    n -= left;
    if (segments_[head_].reference != nullptr) --references_;
    ++head_;
    head_sent_ = 0;
  }
  if (queued_ == 0) Reset();
}

void OutputQueue::CopyReferences() {
  for (size_t i = head_; i < segments_.size() && references_ > 0; ++i) {
    Segment& s = segments_[i];
    if (s.reference == nullptr) continue;
    const size_t at = out_.size();
    out_.append(s.reference, s.size);
    s = Segment{nullptr, at, s.size};
    --references_;
  }
}

void OutputQueue::EndFlush() {
  CopyReferences();
  adopted_.clear();
  ++epoch_;
  if (queued_ == 0) return Reset();
  // Only copies are left. When much has been written, keep just the unsent bytes.
  // Without references (TLS) the segments are always one run in out_; with them, order in
  // out_ does not matter to writev.
  if (segments_[head_].offset < kCompactBytes) return;
  std::string unsent;
  unsent.reserve(queued_);
  for (size_t i = head_; i < segments_.size(); ++i) {
    const size_t skip = i == head_ ? head_sent_ : 0;
    unsent.append(out_.data() + segments_[i].offset + skip, segments_[i].size - skip);
  }
  out_ = std::move(unsent);
  segments_.assign(1, Segment{nullptr, 0, out_.size()});
  head_ = 0;
  head_sent_ = 0;
}

void OutputQueue::Reset() {
  out_.clear();
  segments_.clear();
  head_ = 0;
  head_sent_ = 0;
  queued_ = 0;
  references_ = 0;
  adopted_.clear();
}

}  // namespace rollout::proxy::h2
