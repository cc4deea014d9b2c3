// H2Connection: one HTTP/2 connection of the nghttp2 data plane, as an nghttp2 session on
// a non-blocking socket in a worker's epoll loop.
//
// Reading feeds nghttp2 (nghttp2_session_mem_recv) from one buffer per worker; nghttp2
// calls back into the connection, which hands each stream event to its H2Call. Writing is
// batched: a connection that has something to send is marked dirty, and the worker flushes
// it once per loop turn (nghttp2_session_send into its OutputQueue, then one writev()).
// Large DATA payloads are written from the Pipe that holds them, not copied (plaintext).
// Output above kHighWater stops nghttp2 from pulling more DATA, so a slow peer pushes back
// on the streams that feed it.
//
//  - DownstreamConnection: the server side, a client of the proxy. Each request stream
//    becomes an H2Call.
//  - UpstreamConnection: the client side, to one backend endpoint, shared by the worker's
//    calls to it. Nothing is written before the TCP connect completes, so a call on a
//    connection that never came up has sent nothing and may be retried elsewhere.
//
// A connection that fails or ends is closed: every call on it is told (OnLost), and the
// worker deletes it at the end of the loop turn. Thread-safety: one worker thread.
#ifndef ROLLOUT_PROXY_H2_CONNECTION_H_
#define ROLLOUT_PROXY_H2_CONNECTION_H_

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proxy/h2/event_loop.h"
#include "proxy/h2/output_queue.h"

namespace rollout::proxy::h2 {

class H2Connection {
 public:
  static constexpr size_t kHighWater = 256 * 1024;

  H2Connection(EventLoop* loop, int fd);
  virtual ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  nghttp2_session* session() const { return session_; }
  int fd() const { return fd_; }
  bool closed() const { return closed_; }

  // The connection speaks TLS over its socket, with `ssl` (owned from now on); the
  // handshake runs first, and nothing HTTP/2 is read or written before it is done.
  void StartTls(SSL* ssl);
  // epoll events on the socket.
  void OnIo(uint32_t events);
  // Something is queued in nghttp2: flush at the end of this loop turn.
  void MarkDirty();
  // Serializes what nghttp2 has to send and writes it. Closes the connection on an error.
  void Flush();
  // Ends the connection now: every call on it is told, and the worker deletes it later.
  void Close(absl::string_view why);

  bool HasRoomForOutput() const { return out_.queued() < kHighWater; }
  void AppendOutput(const uint8_t* data, size_t size) { out_.Append(data, size); }
  // A DATA payload: referenced where it lies when it is large and the socket is plaintext
  // (true: it must then stay put until this flush ends), copied otherwise (false).
  bool AppendPayload(const uint8_t* data, size_t size) {
    if (ssl_ != nullptr || size < OutputQueue::kReferenceMinBytes) {
      out_.Append(data, size);
      return false;
    }
    out_.AppendReference(data, size);
    return true;
  }
  // Flushes so far (OutputQueue::epoch): a payload referenced during flush `e` is pinned
  // while output_epoch() == e.
  uint64_t output_epoch() const { return out_.epoch(); }
  // The owner of a referenced payload goes away while the flush runs: see OutputQueue::Adopt.
  void AdoptOutput(ByteBuffer&& bytes) { out_.Adopt(std::move(bytes)); }

  bool dirty_ = false;  // in the loop's flush list

  // TCP_NODELAY: frames go out as they are written (the loop batches them already).
  static void SetNoDelay(int fd);

 protected:
  // Every call on the connection is told that it is gone. Called once, from Close().
  virtual void OnLost(absl::string_view why) = 0;
  // nghttp2_send_data_callback for the stream whose data provider has `source`
  // (nghttp2_data_source.ptr): its Pipe writes the frame into this connection's output.
  virtual int SendData(void* source, const uint8_t* framehd, size_t length) = 0;
  // nghttp2 refused what the peer sent (a negative nghttp2_session_mem_recv result); the
  // connection closes right after.
  virtual void OnSessionError(int /*lib_error*/) {}
  // The TLS handshake failed with SSL_get_error() `ssl_error`; the connection closes next,
  // with what this returns (if anything) in its reason.
  virtual std::string OnTlsFailure(int /*ssl_error*/) { return ""; }
  // The TLS handshake is done; HTTP/2 starts now.
  virtual void OnHandshakeDone() {}
  // Upstream: false while the TCP connect is under way.
  virtual bool connected() const { return true; }
  // Upstream: the socket became writable while connecting.
  virtual void OnConnectDone() {}
  // Sets the callbacks shared by both kinds of connection.
  static void SetCommonCallbacks(nghttp2_session_callbacks* callbacks);
  // Session options both kinds share; the caller deletes them.
  static nghttp2_option* NewOptions();
  // Our SETTINGS: the windows and frame size both kinds share, then `extra`.
  static void SubmitSettings(nghttp2_session* session, const nghttp2_settings_entry* extra,
                             size_t extra_count);
  // The stream user data of stream `stream_id` of `session`: its H2Call (client side) or
  // UpstreamStream (backend side), or null.
  template <typename T>
  static T* StreamOf(nghttp2_session* session, int32_t stream_id) {
    return static_cast<T*>(nghttp2_session_get_stream_user_data(session, stream_id));
  }

  void WatchWrite(bool on);
  // Drives the TLS handshake one step (after the socket's events, or to start it).
  void ContinueHandshake();
  bool handshaking() const { return handshaking_; }

  EventLoop* const loop_;
  const int fd_;
  nghttp2_session* session_ = nullptr;
  SSL* ssl_ = nullptr;  // null: plaintext

 private:
  static constexpr ssize_t kWouldBlock = -1;
  static constexpr ssize_t kFailed = -2;  // errno says why
  // recv() or SSL_read(): bytes, 0 at the peer's end, kWouldBlock or kFailed.
  ssize_t Receive(uint8_t* buffer, size_t size);
  // writev() or SSL_write() of what is queued: bytes written, kWouldBlock or kFailed.
  ssize_t Transmit();
  // What Flush() does before the flush ends: nghttp2_session_send and the writes.
  void SendAndWrite();
  void ReadSome();
  // Why Receive() or Transmit() returned kFailed.
  std::string FailureText() const;
  static ssize_t OnSend(nghttp2_session*, const uint8_t* data, size_t length, int flags,
                        void* user_data);
  static int OnSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                        size_t length, nghttp2_data_source* source, void* user_data);

  OutputQueue out_;
  std::string tls_error_;  // why the last SSL_read or SSL_write failed
  bool watching_write_ = false;
  bool handshaking_ = false;
  bool closed_ = false;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_CONNECTION_H_
