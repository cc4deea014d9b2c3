#include "proxy/h2/upstream_connection.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "metrics/call_series.h"
#include "routing/host_port.h"

namespace rollout::proxy::h2 {

UpstreamConnection::UpstreamConnection(EventLoop* loop, int fd, H2Upstream* owner)
    : H2Connection(loop, fd), owner_(owner), connect_started_ns_(metrics::MonotonicNowNs()) {
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  SetCommonCallbacks(callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
  nghttp2_option* option = NewOptions();
  // Whatever the listener accepts (connections.max_header_list_bytes, at most 64 KiB) can be
  // sent on, so a client's headers never fail at a backend's door and count against it.
  nghttp2_option_set_max_send_header_block_length(option, 128 * 1024);
  nghttp2_session_client_new3(&session_, callbacks, this, option, loop->session_memory());
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  SubmitSettings(session_, settings, 1);
}

UpstreamConnection::~UpstreamConnection() {
  if (owner_ != nullptr && owner_->current_ == this) owner_->current_ = nullptr;
}

int32_t UpstreamConnection::Submit(UpstreamStream* call, const nghttp2_nv* nva, size_t nvlen,
                                   nghttp2_data_provider* body) {
  const int32_t id = nghttp2_submit_request(session_, nullptr, nva, nvlen, body, call);
  if (id > 0) {
    LinkCall<&UpstreamStream::up_hook>(&calls_, call);
    MarkDirty();
  }
  return id;
}

void UpstreamConnection::Remove(UpstreamStream* call) {
  UnlinkCall<&UpstreamStream::up_hook>(&calls_, call);
}

int UpstreamConnection::SendData(void* source, const uint8_t* framehd, size_t length) {
  return static_cast<UpstreamStream*>(source)->request_pipe()->Send(framehd, length);
}

void UpstreamConnection::OnConnectDone() {
  int error = 0;
  socklen_t len = sizeof(error);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error != 0) return Close(absl::StrCat("connect: ", strerror(error)));
  connected_ = true;
  loop_->SetEvents(this, EPOLLIN);
  if (ssl_ != nullptr) return ContinueHandshake();  // HTTP/2 starts once it is done
  if (owner_ != nullptr) owner_->Connected(this);
  MarkDirty();  // the preface and every request queued meanwhile
}

std::string UpstreamConnection::OnTlsFailure(int ssl_error) {
  return ClientTls::Describe(ssl_, ssl_error);
}

void UpstreamConnection::OnHandshakeDone() {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &protocol, &length);
  // A backend that does no ALPN may still speak HTTP/2; one that picked something else not.
  if (length != 0 && absl::string_view(reinterpret_cast<const char*>(protocol), length) != "h2") {
    return Close(absl::StrCat("the backend chose ALPN \"",
                              absl::string_view(reinterpret_cast<const char*>(protocol), length),
                              "\", not h2"));
  }
  if (owner_ != nullptr) owner_->Connected(this);
}

void UpstreamConnection::OnLost(absl::string_view why) {
  if (owner_ != nullptr) owner_->Failed(this, why, /*connect_failed=*/!ready());
  while (calls_.head != nullptr) {
    UpstreamStream* call = calls_.head;
    UnlinkCall<&UpstreamStream::up_hook>(&calls_, call);
    call->OnUpstreamLost(/*never_sent=*/!ready(), why);
  }
}

int UpstreamConnection::OnHeader(nghttp2_session* session, const nghttp2_frame* frame,
                                 const uint8_t* name, size_t namelen, const uint8_t* value,
                                 size_t valuelen, uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (UpstreamStream* call = StreamOf<UpstreamStream>(session, frame->hd.stream_id)) {
    call->OnResponseHeader(absl::string_view(reinterpret_cast<const char*>(name), namelen),
                           absl::string_view(reinterpret_cast<const char*>(value), valuelen),
                           /*trailer=*/frame->headers.cat == NGHTTP2_HCAT_HEADERS);
  }
  return 0;
}

int UpstreamConnection::OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame,
                                    void* user_data) {
  auto* conn = static_cast<UpstreamConnection*>(user_data);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    // The backend is going away: new calls go to a new connection.
    conn->goaway_received_ = true;
    if (conn->owner_ != nullptr && conn->owner_->current_ == conn) conn->owner_->current_ = nullptr;
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  UpstreamStream* call = StreamOf<UpstreamStream>(session, frame->hd.stream_id);
  if (call == nullptr) return 0;
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
    call->OnResponseHeadersDone(end_stream);
  } else if (end_stream) {
    call->OnResponseEnd();
  }
  return 0;
}

int UpstreamConnection::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                                    const uint8_t* data, size_t len, void*) {
  if (UpstreamStream* call = StreamOf<UpstreamStream>(session, stream_id)) {
    call->OnResponseData(data, len);
  } else {
    nghttp2_session_consume(session, stream_id, len);
  }
  return 0;
}

int UpstreamConnection::OnStreamClose(nghttp2_session* session, int32_t stream_id,
                                      uint32_t error_code, void* user_data) {
  UpstreamStream* call = StreamOf<UpstreamStream>(session, stream_id);
  if (call == nullptr) return 0;
  static_cast<UpstreamConnection*>(user_data)->Remove(call);
  call->OnUpstreamClosed(error_code);
  return 0;
}

// ---- H2Upstream ----

H2Upstream::H2Upstream(EventLoop* loop, std::string address,
                       absl::StatusOr<std::shared_ptr<ClientTls>> tls)
    : loop_(loop), address_(std::move(address)), tls_(std::move(tls)) {}

H2Upstream::~H2Upstream() {
  if (current_ != nullptr) current_->owner_ = nullptr;
}

UpstreamConnection* H2Upstream::Acquire(int64_t now_ns, std::string* why) {
  if (current_ != nullptr && current_->usable()) return current_;
  if (!tls_.ok()) {
    *why = std::string(tls_.status().message());
    failing_.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  if (failing_.load(std::memory_order_relaxed) && now_ns < retry_at_ns_) {
    *why =
        absl::StrCat(last_error_, " (reconnecting in ", (retry_at_ns_ - now_ns) / 1000000, " ms)");
    return nullptr;
  }
  UpstreamConnection* conn = Connect(why);
  if (conn == nullptr) {
    Failed(nullptr, *why, /*connect_failed=*/true);
    return nullptr;
  }
  current_ = conn;
  return conn;
}

UpstreamConnection* H2Upstream::Connect(std::string* why) {
  const routing::HostPort hp = routing::SplitHostPort(address_);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  // Addresses only (NameResolver resolved the names): this never blocks on DNS.
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &found); rc != 0) {
    *why = absl::StrCat("bad endpoint address ", address_, ": ", gai_strerror(rc));
    return nullptr;
  }
  SSL* ssl = nullptr;
  if (ClientTls* client_tls = tls()) {
    ssl = client_tls->NewSsl(loop_->now_ns(), hp.host);
    if (ssl == nullptr) {
      *why = absl::StrCat("TLS: ", OpenSslError());
      freeaddrinfo(found);
      return nullptr;
    }
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why = absl::StrCat("socket: ", strerror(errno));
    freeaddrinfo(found);
    if (ssl != nullptr) SSL_free(ssl);
    return nullptr;
  }
  H2Connection::SetNoDelay(fd);
  const int rc = ::connect(fd, found->ai_addr, found->ai_addrlen);
  const int error = errno;
  freeaddrinfo(found);
  if (rc != 0 && error != EINPROGRESS) {
    *why = absl::StrCat("connect: ", strerror(error));
    ::close(fd);
    if (ssl != nullptr) SSL_free(ssl);
    return nullptr;
  }
  auto* conn = new UpstreamConnection(loop_, fd, this);
  if (ssl != nullptr) conn->StartTls(ssl);
  loop_->Watch(conn, EPOLLOUT);  // the connect's completion
  return conn;
}

void H2Upstream::Connected(UpstreamConnection*) {
  failing_.store(false, std::memory_order_relaxed);
  backoff_ns_ = 0;
}

void H2Upstream::Failed(UpstreamConnection* conn, absl::string_view why, bool connect_failed) {
  if (conn != nullptr && current_ == conn) current_ = nullptr;
  if (!connect_failed) return;  // it was up: the next call reconnects at once
  last_error_ = std::string(why);
  backoff_ns_ = backoff_ns_ == 0 ? int64_t{1000000000}
                                 : std::min<int64_t>(backoff_ns_ * 8 / 5, int64_t{30000000000});
  retry_at_ns_ = metrics::MonotonicNowNs() + backoff_ns_;
  failing_.store(true, std::memory_order_relaxed);
}

}  // namespace rollout::proxy::h2
