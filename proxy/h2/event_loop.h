// EventLoop: what a connection needs of the epoll loop that runs it. H2Worker is the one
// loop; connections, calls and mirrors see it only through this interface (and
// CallContext), so that nothing below the worker includes the worker.
//
//   loop->Watch(conn, EPOLLOUT);        // a new socket: the loop owns `conn` from now on
//   loop->MarkDirty(conn);              // flush `conn` at the end of this loop turn
//   loop->Reap(conn);                   // closed: stop watching, delete at the turn's end
//   nghttp2_session_server_new3(..., loop->session_memory());  // the loop's allocator
//
// Thread-safety: the loop's own thread only.
#ifndef ROLLOUT_PROXY_H2_EVENT_LOOP_H_
#define ROLLOUT_PROXY_H2_EVENT_LOOP_H_

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>

namespace rollout::proxy::h2 {

class H2Connection;

class EventLoop {
 public:
  // A read takes up to this much: at 1 MiB messages, 256 KiB cost 17% less CPU per call than
  // 64 KiB (fewer recv and sendmsg calls, fewer nghttp2 turns), and 1 MiB gave nothing more
  // (bench/PROFILE.md).
  static constexpr size_t kReadBufferBytes = 256 * 1024;

  // Takes ownership of `conn` and watches its socket for `events` (EPOLLIN, EPOLLOUT).
  virtual void Watch(H2Connection* conn, uint32_t events) = 0;
  // Changes the events watched on `conn`'s socket.
  virtual void SetEvents(H2Connection* conn, uint32_t events) = 0;
  // `conn` has something to send: it is flushed once, at the end of this loop turn.
  virtual void MarkDirty(H2Connection* conn) = 0;
  // Stops watching a closed connection and deletes it at the end of the loop turn.
  virtual void Reap(H2Connection* conn) = 0;
  // One buffer of kReadBufferBytes that every connection of the loop reads into.
  virtual uint8_t* read_buffer() = 0;
  // The allocator of every nghttp2 session of the loop (SessionMemory).
  virtual nghttp2_mem* session_memory() = 0;
  // metrics::MonotonicNowNs() as of this loop turn's start.
  virtual int64_t now_ns() const = 0;

 protected:
  ~EventLoop() = default;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_EVENT_LOOP_H_
