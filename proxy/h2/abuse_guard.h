// AbuseGuard: the bookkeeping one client connection needs so that the proxy can refuse a
// hostile client early: the size of the header block being received, the client's stream
// resets against its streams (Rapid Reset, CVE-2023-44487), empty DATA frames in a row
// (CVE-2019-9518), and the clocks of the handshake, of a header block and of idleness.
//
// It decides nothing about the wire: the downstream connection feeds it events and acts on
// its answers (resets a stream, sends GOAWAY, closes). nghttp2 itself bounds what it can:
// CONTINUATION frames per block, unanswered SETTINGS and PING acknowledgements, streams over
// SETTINGS_MAX_CONCURRENT_STREAMS.
//
//   AbuseGuard guard(limits, now);
//   guard.OnHeaderBlockBegin(now);
//   if (!guard.AddField(name.size(), value.size())) { ... over max_header_list_bytes ... }
//
// Times are on metrics::MonotonicNowNs(). Thread-safety: one worker thread.
#ifndef ROLLOUT_PROXY_H2_ABUSE_GUARD_H_
#define ROLLOUT_PROXY_H2_ABUSE_GUARD_H_

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "routing/connection_limits.h"

namespace rollout::proxy::h2 {

class AbuseGuard final {
 public:
  // Envoy's defaults for premature resets: once a connection has opened this many streams,
  // it is closed when the client itself reset at least half of them before their answer.
  static constexpr uint64_t kRapidResetMinStreams = 500;
  // DATA frames with no payload and no END_STREAM, in a row; gRPC clients send none.
  static constexpr int kMaxEmptyFrames = 10;
  // RFC 9113 6.5.2: a field's size is its name, its value and 32 bytes.
  static constexpr size_t kFieldOverhead = 32;

  enum class Expired { kNone, kHandshake, kHeader, kIdle };

  AbuseGuard(const routing::ConnectionLimits& limits, int64_t now_ns)
      : max_header_list_bytes_(limits.max_header_list_bytes),
        handshake_ns_(absl::ToInt64Nanoseconds(limits.handshake_timeout)),
        idle_ns_(absl::ToInt64Nanoseconds(limits.idle_timeout)),
        opened_ns_(now_ns),
        idle_since_ns_(now_ns) {}

  // The client's first SETTINGS frame (after its preface) arrived.
  void OnPreface() { preface_done_ = true; }

  // A header block (request headers or trailers) begins; the client may send nothing else
  // on the connection until it ends.
  void OnHeaderBlockBegin(int64_t now_ns) {
    block_started_ns_ = now_ns;
    block_bytes_ = 0;
  }
  // One field of that block: false once the block is over max_header_list_bytes.
  bool AddField(size_t name_len, size_t value_len) {
    block_bytes_ += name_len + value_len + kFieldOverhead;
    return block_bytes_ <= max_header_list_bytes_;
  }
  bool block_too_large() const { return block_bytes_ > max_header_list_bytes_; }
  size_t block_bytes() const { return block_bytes_; }
  void OnHeaderBlockEnd() { block_started_ns_ = 0; }

  void OnStreamOpened() { ++streams_; }
  // The client reset a stream before its answer was complete. True when the connection
  // must now be closed for Rapid Reset.
  bool OnPrematureReset() {
    ++premature_resets_;
    return streams_ >= kRapidResetMinStreams && premature_resets_ * 2 >= streams_;
  }
  // A DATA frame: true when it is one empty frame too many in a row.
  bool OnData(size_t payload_bytes, bool end_stream) {
    if (payload_bytes > 0 || end_stream) {
      empty_frames_ = 0;
      return false;
    }
    return ++empty_frames_ > kMaxEmptyFrames;
  }

  // The connection's last call has left: it is idle from now.
  void OnIdle(int64_t now_ns) { idle_since_ns_ = now_ns; }

  // The clock that has run out, if any (the handshake first, then a header block, then
  // idleness while the connection has no call: `busy` says it has one). `idle_extra_ns`
  // lengthens the idle timeout (to close a connection that did not leave after its idle
  // GOAWAY).
  Expired Check(int64_t now_ns, bool busy, int64_t idle_extra_ns = 0) const {
    if (!preface_done_ && now_ns - opened_ns_ > handshake_ns_) return Expired::kHandshake;
    if (block_started_ns_ != 0 && now_ns - block_started_ns_ > handshake_ns_) {
      return Expired::kHeader;
    }
    if (!busy && idle_ns_ > 0 && now_ns - idle_since_ns_ > idle_ns_ + idle_extra_ns) {
      return Expired::kIdle;
    }
    return Expired::kNone;
  }
  int64_t handshake_ns() const { return handshake_ns_; }

 private:
  const size_t max_header_list_bytes_;
  const int64_t handshake_ns_;
  const int64_t idle_ns_;
  const int64_t opened_ns_;
  int64_t idle_since_ns_;
  int64_t block_started_ns_ = 0;
  size_t block_bytes_ = 0;
  uint64_t streams_ = 0;
  uint64_t premature_resets_ = 0;
  int empty_frames_ = 0;
  bool preface_done_ = false;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_ABUSE_GUARD_H_
