#include "proxy/h2/connection.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "metrics/call_series.h"
#include "proxy/h2/ssl_context.h"

namespace rollout::proxy::h2 {
namespace {

// Per stream and per connection: what a peer may send before the proxy has passed it on.
// A stream's window bounds what the proxy holds of it per direction.
constexpr int32_t kStreamWindow = 1 << 20;
constexpr int32_t kConnectionWindow = 8 << 20;
// Peers may send DATA frames this large, and the proxy sends frames as large as each peer
// allows: a 1 MiB message crosses in a few frames instead of 64.
constexpr uint32_t kMaxFrameSize = 256 * 1024;

// Why an SSL_read or SSL_write failed: OpenSSL's reason, or the socket's.
std::string TlsIoError() {
  if (ERR_peek_error() != 0) return OpenSslError();
  return errno != 0 ? strerror(errno) : "the peer closed the connection abruptly";
}

}  // namespace

H2Connection::H2Connection(EventLoop* loop, int fd) : loop_(loop), fd_(fd) {}

void H2Connection::SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

nghttp2_option* H2Connection::NewOptions() {
  nghttp2_option* option;
  nghttp2_option_new(&option);
  // The proxy returns window only once it has passed the bytes on (Pipe).
  nghttp2_option_set_no_auto_window_update(option, 1);
  // Without this nghttp2 keeps every closed stream of a connection for the RFC 7540
  // priority tree (about 300 bytes a call, for the connection's life: the RSS soak found it).
  nghttp2_option_set_no_closed_streams(option, 1);
  return option;
}

void H2Connection::SubmitSettings(nghttp2_session* session, const nghttp2_settings_entry* extra,
                                  size_t extra_count) {
  nghttp2_settings_entry settings[8] = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, kMaxFrameSize},
  };
  size_t n = 2;
  for (size_t i = 0; i < extra_count && n < 8; ++i) settings[n++] = extra[i];
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, n);
  nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

H2Connection::~H2Connection() {
  if (session_ != nullptr) nghttp2_session_del(session_);
  if (ssl_ != nullptr) SSL_free(ssl_);
  ::close(fd_);
}

void H2Connection::SetCommonCallbacks(nghttp2_session_callbacks* callbacks) {
  nghttp2_session_callbacks_set_send_callback(callbacks, &H2Connection::OnSend);
  nghttp2_session_callbacks_set_send_data_callback(callbacks, &H2Connection::OnSendData);
  nghttp2_session_callbacks_set_data_source_read_length_callback(
      callbacks,
      [](nghttp2_session*, uint8_t, int32_t, int32_t session_window, int32_t stream_window,
         uint32_t max_frame, void*) -> ssize_t {
        return std::min<ssize_t>({session_window, stream_window, max_frame});
      });
}

ssize_t H2Connection::OnSend(nghttp2_session*, const uint8_t* data, size_t length, int,
                             void* user_data) {
  auto* conn = static_cast<H2Connection*>(user_data);
  if (!conn->HasRoomForOutput()) return NGHTTP2_ERR_WOULDBLOCK;
  conn->AppendOutput(data, length);
  return static_cast<ssize_t>(length);
}

int H2Connection::OnSendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                             size_t length, nghttp2_data_source* source, void* user_data) {
  auto* conn = static_cast<H2Connection*>(user_data);
  (void)frame;  // no padding is ever asked for
  return conn->SendData(source->ptr, framehd, length);
}

void H2Connection::StartTls(SSL* ssl) {
  ssl_ = ssl;
  SSL_set_fd(ssl_, fd_);
  handshaking_ = true;
}

void H2Connection::OnIo(uint32_t events) {
  if (closed_) return;
  if (!connected()) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) OnConnectDone();
    return;
  }
  if (handshaking_) {
    ContinueHandshake();
    if (handshaking_ || closed_) return;
    events |= EPOLLIN;  // what came with the handshake's last flight may be waiting
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) ReadSome();
  if (!closed_ && (events & EPOLLOUT) != 0) MarkDirty();
}

void H2Connection::ContinueHandshake() {
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshaking_ = false;
    WatchWrite(false);
    MarkDirty();  // our SETTINGS, queued since the connection opened
    OnHandshakeDone();
    return;
  }
  const int error = SSL_get_error(ssl_, rc);
  if (error == SSL_ERROR_WANT_READ) return WatchWrite(false);
  if (error == SSL_ERROR_WANT_WRITE) return WatchWrite(true);
  const std::string detail = OnTlsFailure(error);
  Close(detail.empty() ? std::string("the TLS handshake failed")
                       : absl::StrCat("the TLS handshake failed: ", detail));
}

ssize_t H2Connection::Receive(uint8_t* buffer, size_t size) {
  if (ssl_ == nullptr) {
    const ssize_t n = ::recv(fd_, buffer, size, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return kWouldBlock;
    return n < 0 ? kFailed : n;
  }
  const int n = SSL_read(ssl_, buffer, static_cast<int>(size));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
      return kWouldBlock;
    case SSL_ERROR_WANT_WRITE:  // a key update wants out first
      WatchWrite(true);
      return kWouldBlock;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    default:
      tls_error_ = TlsIoError();
      return kFailed;
  }
}

ssize_t H2Connection::Transmit() {
  if (ssl_ == nullptr) {
    const ssize_t n = out_.WriteTo(fd_);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return kWouldBlock;
    return n < 0 ? kFailed : n;
  }
  const absl::string_view data = out_.Contiguous();
  const int n =
      SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
  if (n > 0) return n;
  const int error = SSL_get_error(ssl_, n);
  if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) return kWouldBlock;
  tls_error_ = TlsIoError();
  return kFailed;
}

void H2Connection::ReadSome() {
  uint8_t* buffer = loop_->read_buffer();
  // TLS may hold decrypted bytes that the socket no longer signals: drain them too.
  do {
    const ssize_t n = Receive(buffer, EventLoop::kReadBufferBytes);
    if (n == kWouldBlock) return;
    if (n == 0) return Close("the peer closed the connection");
    if (n < 0) return Close(FailureText());
    const ssize_t used = nghttp2_session_mem_recv(session_, buffer, static_cast<size_t>(n));
    if (used < 0) {
      OnSessionError(static_cast<int>(used));
      return Close(absl::StrCat("HTTP/2 error: ", nghttp2_strerror(static_cast<int>(used))));
    }
    MarkDirty();  // acknowledgements, window updates, answers
  } while (ssl_ != nullptr && !closed_ && SSL_pending(ssl_) > 0);
}

std::string H2Connection::FailureText() const {
  return ssl_ != nullptr ? absl::StrCat("TLS: ", tls_error_) : std::string(strerror(errno));
}

void H2Connection::MarkDirty() {
  if (dirty_ || closed_) return;
  dirty_ = true;
  loop_->MarkDirty(this);
}

void H2Connection::Flush() {
  if (closed_ || !connected() || handshaking_) return;
  SendAndWrite();
  out_.EndFlush();  // what the socket did not take of the referenced payloads is copied now
}

void H2Connection::SendAndWrite() {
  for (;;) {
    const int rv = nghttp2_session_send(session_);
    if (rv != 0) return Close(absl::StrCat("HTTP/2 error: ", nghttp2_strerror(rv)));
    if (out_.queued() == 0) break;
    const ssize_t n = Transmit();
    if (n == kWouldBlock) return WatchWrite(true);
    if (n < 0) return Close(FailureText());
    out_.Consume(static_cast<size_t>(n));
    if (out_.queued() > 0) return WatchWrite(true);  // the socket is full
  }
  WatchWrite(false);
  if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
    Close("the HTTP/2 session ended");
  }
}

void H2Connection::WatchWrite(bool on) {
  if (on == watching_write_) return;
  watching_write_ = on;
  loop_->SetEvents(this, on ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
}

void H2Connection::Close(absl::string_view why) {
  if (closed_) return;
  closed_ = true;
  OnLost(why);
  loop_->Reap(this);
}

}  // namespace rollout::proxy::h2
