// H2Connection: one HTTP/2 connection of the nghttp2 data plane, as an nghttp2 session on
// a non-blocking socket in a worker's epoll loop.
//
// Reading feeds nghttp2 (nghttp2_session_mem_recv) from one buffer per worker; nghttp2
// calls back into the connection, which hands each stream event to its H2Call. Writing is
// batched: a connection that has something to send is marked dirty, and the worker flushes
// it once per loop turn (nghttp2_session_send into one output buffer, then one send()).
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

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proxy/h2/pipe.h"
#include "proxy/upstream_set.h"

namespace rollout::proxy::h2 {

class H2Call;
class H2Worker;
class H2Upstream;

// Calls on one connection, as an intrusive list (no allocation per call).
struct CallList {
  H2Call* head = nullptr;
};
struct CallHook {
  H2Call* prev = nullptr;
  H2Call* next = nullptr;
};

class H2Connection {
 public:
  static constexpr size_t kHighWater = 256 * 1024;

  H2Connection(H2Worker* worker, int fd);
  virtual ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  nghttp2_session* session() const { return session_; }
  int fd() const { return fd_; }
  bool closed() const { return closed_; }

  // epoll events on the socket.
  void OnIo(uint32_t events);
  // Something is queued in nghttp2: flush at the end of this loop turn.
  void MarkDirty();
  // Serializes what nghttp2 has to send and writes it. Closes the connection on an error.
  void Flush();
  // Ends the connection now: every call on it is told, and the worker deletes it later.
  void Close(absl::string_view why);

  bool HasRoomForOutput() const { return out_.size() - out_off_ < kHighWater; }
  void AppendOutput(const uint8_t* data, size_t size) {
    out_.append(reinterpret_cast<const char*>(data), size);
  }

  bool dirty_ = false;  // in the worker's flush list

 protected:
  // Every call on the connection is told that it is gone. Called once, from Close().
  virtual void OnLost(absl::string_view why) = 0;
  // The pipe whose bytes this connection sends for `call`.
  virtual Pipe* OutgoingPipe(H2Call* call) = 0;
  // Upstream: false while the TCP connect is under way.
  virtual bool connected() const { return true; }
  // Upstream: the socket became writable while connecting.
  virtual void OnConnectDone() {}
  // Sets the callbacks shared by both kinds of connection.
  static void SetCommonCallbacks(nghttp2_session_callbacks* callbacks);

  void WatchWrite(bool on);

  H2Worker* const worker_;
  const int fd_;
  nghttp2_session* session_ = nullptr;

 private:
  void ReadSome();
  static ssize_t OnSend(nghttp2_session*, const uint8_t* data, size_t length, int flags,
                        void* user_data);
  static int OnSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                        size_t length, nghttp2_data_source* source, void* user_data);

  std::string out_;
  size_t out_off_ = 0;
  bool watching_write_ = false;
  bool closed_ = false;
};

// The server side: a client's connection to the proxy.
class DownstreamConnection final : public H2Connection {
 public:
  DownstreamConnection(H2Worker* worker, int fd);
  ~DownstreamConnection() override;

  void Add(H2Call* call);
  void Remove(H2Call* call);
  bool has_calls() const { return calls_.head != nullptr; }
  // Graceful GOAWAY: streams already opened run on, no new ones are accepted.
  void SendGoaway();

 private:
  void OnLost(absl::string_view why) override;
  Pipe* OutgoingPipe(H2Call* call) override;
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data);

  CallList calls_;
  bool goaway_sent_ = false;
};

// The client side: the worker's connection to one backend endpoint.
class UpstreamConnection final : public H2Connection {
 public:
  // Starts a non-blocking connect; the socket is already open.
  UpstreamConnection(H2Worker* worker, int fd, H2Upstream* owner);
  ~UpstreamConnection() override;

  // Opens a stream for `call`: the request headers now, its body from `body`.
  // Returns the stream id, or a negative nghttp2 error.
  int32_t Submit(H2Call* call, const nghttp2_nv* nva, size_t nvlen, nghttp2_data_provider* body);
  void Remove(H2Call* call);
  // Accepts new streams: connected or connecting, and no GOAWAY received.
  bool usable() const { return !closed() && !goaway_received_; }
  bool connected() const override { return connected_; }
  int64_t connect_started_ns() const { return connect_started_ns_; }
  bool idle() const { return calls_.head == nullptr; }

 private:
  void OnLost(absl::string_view why) override;
  Pipe* OutgoingPipe(H2Call* call) override;
  void OnConnectDone() override;
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data);

  H2Upstream* owner_;  // null once the owner has moved on to a newer connection
  CallList calls_;
  bool connected_ = false;
  bool goaway_received_ = false;
  int64_t connect_started_ns_;

  friend class H2Upstream;
};

// One endpoint's connection manager in one worker (the UpstreamSet::Link of the nghttp2
// data plane): the current connection, and reconnect backoff after a failed connect
// (1 s, x1.6, at most 30 s, as gRPC does).
class H2Upstream final : public UpstreamSet::Link {
 public:
  H2Upstream(H2Worker* worker, std::string address);
  ~H2Upstream() override;

  bool failing() const override { return failing_.load(std::memory_order_relaxed); }
  const std::string& address() const { return address_; }

  // A connection that takes new streams (connecting if need be), or null while backing off
  // after a failed connect (then *why says what failed).
  UpstreamConnection* Acquire(int64_t now_ns, std::string* why);

  // From the connection.
  void Connected(UpstreamConnection* conn);
  void Failed(UpstreamConnection* conn, absl::string_view why, bool connect_failed);

 private:
  H2Worker* const worker_;
  const std::string address_;
  UpstreamConnection* current_ = nullptr;
  std::atomic<bool> failing_{false};
  int64_t retry_at_ns_ = 0;
  int64_t backoff_ns_ = 0;
  std::string last_error_;

  friend class UpstreamConnection;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_CONNECTION_H_
