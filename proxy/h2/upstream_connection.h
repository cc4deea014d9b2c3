// UpstreamConnection and H2Upstream: the client side of the nghttp2 data plane, the
// worker's connection to one backend endpoint (see connection.h for the common part), and
// the manager that keeps one such connection per endpoint with reconnect backoff.
//
// Thread-safety: one worker thread, but for H2Upstream::failing().
#ifndef ROLLOUT_PROXY_H2_UPSTREAM_CONNECTION_H_
#define ROLLOUT_PROXY_H2_UPSTREAM_CONNECTION_H_

#include <nghttp2/nghttp2.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proxy/h2/call_list.h"
#include "proxy/h2/client_tls.h"
#include "proxy/h2/connection.h"
#include "proxy/h2/upstream_stream.h"
#include "proxy/upstream_set.h"

namespace rollout::proxy::h2 {

class H2Upstream;

// The client side: the worker's connection to one backend endpoint.
class UpstreamConnection final : public H2Connection {
 public:
  // Starts a non-blocking connect; the socket is already open.
  UpstreamConnection(EventLoop* loop, int fd, H2Upstream* owner);
  ~UpstreamConnection() override;

  // Opens a stream for `call`: the request headers now, its body from `body` (whose
  // source.ptr must be `call`). Returns the stream id, or a negative nghttp2 error.
  int32_t Submit(UpstreamStream* call, const nghttp2_nv* nva, size_t nvlen,
                 nghttp2_data_provider* body);
  void Remove(UpstreamStream* call);
  // Accepts new streams: connected or connecting, and no GOAWAY received.
  bool usable() const { return !closed() && !goaway_received_; }
  bool connected() const override { return connected_; }
  // Connected, and past the TLS handshake if there is one: HTTP/2 may flow.
  bool ready() const { return connected_ && !handshaking(); }
  int64_t connect_started_ns() const { return connect_started_ns_; }
  bool idle() const { return calls_.head == nullptr; }

 private:
  void OnLost(absl::string_view why) override;
  int SendData(void* source, const uint8_t* framehd, size_t length) override;
  void OnConnectDone() override;
  std::string OnTlsFailure(int ssl_error) override;
  void OnHandshakeDone() override;
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data);

  H2Upstream* owner_;  // null once the owner has moved on to a newer connection
  CallList<UpstreamStream> calls_;
  bool connected_ = false;
  bool goaway_received_ = false;
  int64_t connect_started_ns_;

  friend class H2Upstream;
};

// One endpoint's connection manager in one worker (the UpstreamSet::Link of the nghttp2
// data plane): the current connection, and reconnect backoff after a failed connect or
// TLS handshake (1 s, x1.6, at most 30 s, as gRPC does).
class H2Upstream final : public UpstreamSet::Link {
 public:
  // `tls`: null for plaintext; an error if the pool's TLS files make no context (then every
  // call to the endpoint fails with it).
  H2Upstream(EventLoop* loop, std::string address, absl::StatusOr<std::shared_ptr<ClientTls>> tls);
  ~H2Upstream() override;

  bool failing() const override { return failing_.load(std::memory_order_relaxed); }
  const std::string& address() const { return address_; }
  ClientTls* tls() const { return tls_.ok() ? tls_->get() : nullptr; }

  // A connection that takes new streams (connecting if need be), or null while backing off
  // after a failed connect (then *why says what failed).
  UpstreamConnection* Acquire(int64_t now_ns, std::string* why);

  // From the connection.
  void Connected(UpstreamConnection* conn);
  void Failed(UpstreamConnection* conn, absl::string_view why, bool connect_failed);

 private:
  // Opens a non-blocking connection to address_ (an IP address and port: NameResolver
  // resolved the names) and hands it to the loop; null with *why on failure.
  UpstreamConnection* Connect(std::string* why);

  EventLoop* const loop_;
  const std::string address_;
  const absl::StatusOr<std::shared_ptr<ClientTls>> tls_;
  UpstreamConnection* current_ = nullptr;
  std::atomic<bool> failing_{false};
  int64_t retry_at_ns_ = 0;
  int64_t backoff_ns_ = 0;
  std::string last_error_;

  friend class UpstreamConnection;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_UPSTREAM_CONNECTION_H_
