// Pipe: the bytes of one direction of a proxied call (client -> backend, or backend ->
// client) on their way from the stream that received them (the source) to the stream that
// sends them on (the sink), and the flow control that ties the two together.
//
// Received DATA is appended to the pipe (the one user-space copy); the sink's nghttp2 data
// provider takes it from there (NGHTTP2_DATA_FLAG_NO_COPY) into the sink connection's
// output, which writes a large payload straight from the pipe (AppendPayload), and only
// then gives the source its window back (nghttp2_session_consume). While the sink's flush
// runs, referenced bytes are pinned: the pipe does not move them, and a pipe that is
// detached or destroyed then hands its buffer to the sink (Unpin). So a stream holds at
// most one window of bytes per direction, and a slow reader slows its writer, end to end.
//
// The proxy may add bytes of its own (PushLocal: a model rewrite's fields); they hold no
// window of the source's, so what is given back is never more than the source sent.
//
// The queue is a ByteBuffer: inline while small, so that a small unary message costs no
// allocation; past that it grows on the heap and keeps its capacity for the call's life.
//
// Thread-safety: used by one worker thread.
#ifndef ROLLOUT_PROXY_H2_PIPE_H_
#define ROLLOUT_PROXY_H2_PIPE_H_

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "proxy/h2/byte_buffer.h"

namespace rollout::proxy::h2 {

class H2Connection;

class Pipe final {
 public:
  // Where the bytes come from (whose window they hold) and where they go.
  void SetSource(H2Connection* conn, int32_t stream) {
    src_ = conn;
    src_stream_ = stream;
  }
  void SetSink(H2Connection* conn, int32_t stream) {
    Unpin();
    sink_ = conn;
    sink_stream_ = stream;
  }
  H2Connection* sink() const { return sink_; }

  // Received bytes; wakes the sink's data provider if it was waiting.
  void Push(const uint8_t* data, size_t size);
  // Bytes of the proxy's own, sent in order with the received ones.
  void PushLocal(const uint8_t* data, size_t size);
  // Before the sink has sent anything: takes back what is queued, to push it again changed
  // (with Push: the source's bytes are uncounted here, so that they are counted once).
  std::string TakeUnsent();
  // The source ended its side (END_STREAM).
  void End();
  bool ended() const { return eof_; }
  size_t queued() const { return buf_.size() - off_; }
  const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(buf_.data()) + off_; }
  // Bytes taken from the front of the queue so far (0: the sink has sent nothing).
  uint64_t taken() const { return taken_; }
  // Bytes the source pushed so far (not the proxy's own).
  uint64_t received() const { return source_in_; }

  // The sink's nghttp2_data_source_read_callback: how many bytes the next DATA frame
  // carries (NO_COPY), EOF once the source has ended and all is taken, or DEFERRED.
  ssize_t Read(size_t length, uint32_t* data_flags);
  // The sink's nghttp2_send_data_callback: the frame header and `length` bytes into the
  // sink's output. 0, or NGHTTP2_ERR_WOULDBLOCK while that output is full.
  int Send(const uint8_t* framehd, size_t length);
  // Drops what is queued (the sink is gone) and gives the source its window back.
  void Discard();
  // The source stream is closed: gives back the window of what is queued now, and will
  // not give back anything more.
  void ReleaseAndDetachSource() {
    Release(source_in_ - released_);
    src_ = nullptr;
  }
  // The source connection is gone: nothing to give back any more.
  void DetachSource() { src_ = nullptr; }
  void DetachSink() {
    Unpin();
    sink_ = nullptr;
  }
  ~Pipe() { Unpin(); }

 private:
  void Release(size_t n);
  // Bytes of the buffer are referenced by the sink's flush under way.
  bool pinned() const;
  // If pinned: the sink keeps the buffer until its flush ends, and the unsent bytes move to
  // a buffer of their own.
  void Unpin();

  void Append(const uint8_t* data, size_t size);

  ByteBuffer buf_;
  size_t off_ = 0;
  uint64_t taken_ = 0;
  uint64_t source_in_ = 0;  // bytes pushed by the source (not PushLocal)
  uint64_t released_ = 0;   // of those, given back
  bool eof_ = false;
  bool deferred_ = false;
  uint64_t pinned_epoch_ = 0;  // the sink's output_epoch() + 1 when a payload was referenced
  H2Connection* src_ = nullptr;
  int32_t src_stream_ = 0;
  H2Connection* sink_ = nullptr;
  int32_t sink_stream_ = 0;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_PIPE_H_
