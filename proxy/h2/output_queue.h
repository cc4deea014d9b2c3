// OutputQueue: what one connection has to write, in order. Two kinds of bytes go in:
//  - copied ones (Append): frame headers, control frames, small DATA payloads;
//  - referenced ones (AppendReference): a large DATA payload, left where it lies in the
//    call's Pipe and written from there by writev, so that a forwarded byte is copied once
//    in user space (socket -> Pipe), not twice.
// A reference is only valid during the flush that queued it: EndFlush() copies whatever of
// the referenced bytes the socket did not take, so that nothing queued outlives its owner
// past the flush. An owner that goes away during the flush (a call deleted when its stream
// closes) hands its buffer over first (Adopt), and it is kept until EndFlush().
//
//   q.Append(framehd, 9); q.AppendReference(pipe_bytes, n);   // in nghttp2's send callbacks
//   ssize_t n = q.WriteTo(fd);                                  // writev
//   q.EndFlush();                                               // references become copies
//
// Thread-safety: none; one worker thread.
#ifndef ROLLOUT_PROXY_H2_OUTPUT_QUEUE_H_
#define ROLLOUT_PROXY_H2_OUTPUT_QUEUE_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proxy/h2/byte_buffer.h"

namespace rollout::proxy::h2 {

class OutputQueue final {
 public:
  // Payloads at least this large are referenced rather than copied (when the connection
  // can write from several buffers, i.e. without TLS).
  static constexpr size_t kReferenceMinBytes = 4096;

  void Append(const void* data, size_t size);
  // `data` must stay valid and unchanged until EndFlush().
  void AppendReference(const void* data, size_t size);
  // The owner of referenced bytes goes away before EndFlush(): its buffer is kept until
  // then (or, held inline, every reference is copied at once).
  void Adopt(ByteBuffer&& buffer);

  size_t queued() const { return queued_; }
  bool has_references() const { return references_ > 0; }
  // Flushes so far; an owner whose bytes were referenced in the current one is pinned.
  uint64_t epoch() const { return epoch_; }

  // writev() of what is queued: bytes written, or -1 with errno set.
  ssize_t WriteTo(int fd) const;
  // The unsent bytes as one run (only without references: the TLS path).
  absl::string_view Contiguous() const;
  // `n` bytes were written.
  void Consume(size_t n);
  // The flush is over: copies the unsent referenced bytes, drops adopted buffers, and
  // reclaims the space of what was sent.
  void EndFlush();

 private:
  struct Segment {
    const char* reference;  // null: the bytes are out_[offset, offset + size)
    size_t offset;
    size_t size;
  };
  const char* BytesOf(const Segment& s) const {
    return s.reference != nullptr ? s.reference : out_.data() + s.offset;
  }
  void CopyReferences();
  void Reset();

  std::string out_;                // the copied bytes
  std::vector<Segment> segments_;  // everything queued, in order
  size_t head_ = 0;                // the first unsent segment
  size_t head_sent_ = 0;           // bytes of it already written
  size_t queued_ = 0;              // unsent bytes
  size_t references_ = 0;          // unsent referenced segments
  std::vector<ByteBuffer> adopted_;
  uint64_t epoch_ = 0;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_OUTPUT_QUEUE_H_
