#include "proxy/h2/connection.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "metrics/call_series.h"
#include "proxy/h2/h2_call.h"
#include "proxy/h2/h2_worker.h"

namespace rollout::proxy::h2 {
namespace {

// Per stream and per connection: what a peer may send before the proxy has passed it on.
// A stream's window bounds what the proxy holds of it per direction.
constexpr int32_t kStreamWindow = 1 << 20;
constexpr int32_t kConnectionWindow = 8 << 20;
// Peers may send DATA frames this large, and the proxy sends frames as large as each peer
// allows: a 1 MiB message crosses in a few frames instead of 64.
constexpr uint32_t kMaxFrameSize = 256 * 1024;

template <CallHook H2Call::*kHook>
void Link(CallList* list, H2Call* call) {
  (call->*kHook).prev = nullptr;
  (call->*kHook).next = list->head;
  if (list->head != nullptr) (list->head->*kHook).prev = call;
  list->head = call;
}

template <CallHook H2Call::*kHook>
void Unlink(CallList* list, H2Call* call) {
  CallHook& hook = call->*kHook;
  if (hook.prev == nullptr && list->head != call) return;  // not on the list
  if (hook.prev != nullptr) {
    (hook.prev->*kHook).next = hook.next;
  } else {
    list->head = hook.next;
  }
  if (hook.next != nullptr) (hook.next->*kHook).prev = hook.prev;
  hook.prev = hook.next = nullptr;
}

nghttp2_option* NewOptions() {
  nghttp2_option* option;
  nghttp2_option_new(&option);
  // The proxy returns window only once it has passed the bytes on (Pipe).
  nghttp2_option_set_no_auto_window_update(option, 1);
  // Without this nghttp2 keeps every closed stream of a connection for the RFC 7540
  // priority tree (about 300 bytes a call, for the connection's life: the RSS soak found it).
  nghttp2_option_set_no_closed_streams(option, 1);
  return option;
}

void SubmitSettings(nghttp2_session* session, bool server) {
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, kMaxFrameSize},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, server ? 2 : 3);
  nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

H2Call* CallOf(nghttp2_session* session, int32_t stream_id) {
  return static_cast<H2Call*>(nghttp2_session_get_stream_user_data(session, stream_id));
}

}  // namespace

// ---- H2Connection ----

H2Connection::H2Connection(H2Worker* worker, int fd) : worker_(worker), fd_(fd) {}

H2Connection::~H2Connection() {
  if (session_ != nullptr) nghttp2_session_del(session_);
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
  auto* call = static_cast<H2Call*>(source->ptr);
  (void)frame;  // no padding is ever asked for
  return conn->OutgoingPipe(call)->Send(framehd, length);
}

void H2Connection::OnIo(uint32_t events) {
  if (closed_) return;
  if (!connected()) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) OnConnectDone();
    return;
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) ReadSome();
  if (!closed_ && (events & EPOLLOUT) != 0) MarkDirty();
}

void H2Connection::ReadSome() {
  uint8_t* buffer = worker_->read_buffer();
  const ssize_t n = ::recv(fd_, buffer, H2Worker::kReadBufferBytes, 0);
  if (n > 0) {
    const ssize_t used = nghttp2_session_mem_recv(session_, buffer, static_cast<size_t>(n));
    if (used < 0) {
      Close(absl::StrCat("HTTP/2 error: ", nghttp2_strerror(static_cast<int>(used))));
      return;
    }
    MarkDirty();  // acknowledgements, window updates, answers
  } else if (n == 0) {
    Close("the peer closed the connection");
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    Close(strerror(errno));
  }
}

void H2Connection::MarkDirty() {
  if (dirty_ || closed_) return;
  dirty_ = true;
  worker_->MarkDirty(this);
}

void H2Connection::Flush() {
  if (closed_ || !connected()) return;
  if (out_off_ > 0 && out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  } else if (out_off_ > kHighWater) {
    out_.erase(0, out_off_);
    out_off_ = 0;
  }
  for (;;) {
    const int rv = nghttp2_session_send(session_);
    if (rv != 0) return Close(absl::StrCat("HTTP/2 error: ", nghttp2_strerror(rv)));
    const size_t pending = out_.size() - out_off_;
    if (pending == 0) break;
    const ssize_t n = ::send(fd_, out_.data() + out_off_, pending, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return WatchWrite(true);
      return Close(strerror(errno));
    }
    out_off_ += static_cast<size_t>(n);
    if (out_off_ < out_.size()) return WatchWrite(true);  // the socket is full
    out_.clear();
    out_off_ = 0;
  }
  WatchWrite(false);
  if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
    Close("the HTTP/2 session ended");
  }
}

void H2Connection::WatchWrite(bool on) {
  if (on == watching_write_) return;
  watching_write_ = on;
  worker_->SetEvents(fd_, this, on ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
}

void H2Connection::Close(absl::string_view why) {
  if (closed_) return;
  closed_ = true;
  OnLost(why);
  worker_->Reap(this);
}

// ---- DownstreamConnection ----

DownstreamConnection::DownstreamConnection(H2Worker* worker, int fd) : H2Connection(worker, fd) {
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  SetCommonCallbacks(callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
  nghttp2_option* option = NewOptions();
  nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  SubmitSettings(session_, /*server=*/true);
  MarkDirty();
}

DownstreamConnection::~DownstreamConnection() = default;

void DownstreamConnection::Add(H2Call* call) { Link<&H2Call::down_hook>(&calls_, call); }
void DownstreamConnection::Remove(H2Call* call) { Unlink<&H2Call::down_hook>(&calls_, call); }

void DownstreamConnection::SendGoaway() {
  if (goaway_sent_ || closed()) return;
  goaway_sent_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  MarkDirty();
}

Pipe* DownstreamConnection::OutgoingPipe(H2Call* call) { return call->response_pipe(); }

void DownstreamConnection::OnLost(absl::string_view) {
  while (calls_.head != nullptr) {
    H2Call* call = calls_.head;
    Unlink<&H2Call::down_hook>(&calls_, call);
    call->OnDownstreamLost();
  }
}

int DownstreamConnection::OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame,
                                         void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto* conn = static_cast<DownstreamConnection*>(user_data);
  auto* call = new H2Call(conn->worker_, conn, frame->hd.stream_id);
  conn->Add(call);
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
  return 0;
}

int DownstreamConnection::OnHeader(nghttp2_session* session, const nghttp2_frame* frame,
                                   const uint8_t* name, size_t namelen, const uint8_t* value,
                                   size_t valuelen, uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  if (H2Call* call = CallOf(session, frame->hd.stream_id)) {
    call->OnRequestHeader(absl::string_view(reinterpret_cast<const char*>(name), namelen),
                          absl::string_view(reinterpret_cast<const char*>(value), valuelen));
  }
  return 0;
}

int DownstreamConnection::OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  H2Call* call = CallOf(session, frame->hd.stream_id);
  if (call == nullptr) return 0;
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    call->OnRequestHeadersDone(end_stream);
  } else if (end_stream) {
    call->OnRequestEnd();
  }
  return 0;
}

int DownstreamConnection::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                                      const uint8_t* data, size_t len, void*) {
  if (H2Call* call = CallOf(session, stream_id)) {
    call->OnRequestData(data, len);
  } else {
    nghttp2_session_consume(session, stream_id, len);
  }
  return 0;
}

int DownstreamConnection::OnStreamClose(nghttp2_session* session, int32_t stream_id,
                                        uint32_t error_code, void* user_data) {
  H2Call* call = CallOf(session, stream_id);
  if (call == nullptr) return 0;
  static_cast<DownstreamConnection*>(user_data)->Remove(call);
  call->OnDownstreamClosed(error_code);
  return 0;
}

// ---- UpstreamConnection ----

UpstreamConnection::UpstreamConnection(H2Worker* worker, int fd, H2Upstream* owner)
    : H2Connection(worker, fd), owner_(owner), connect_started_ns_(metrics::MonotonicNowNs()) {
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  SetCommonCallbacks(callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
  nghttp2_option* option = NewOptions();
  nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  SubmitSettings(session_, /*server=*/false);
}

UpstreamConnection::~UpstreamConnection() {
  if (owner_ != nullptr && owner_->current_ == this) owner_->current_ = nullptr;
}

int32_t UpstreamConnection::Submit(H2Call* call, const nghttp2_nv* nva, size_t nvlen,
                                   nghttp2_data_provider* body) {
  const int32_t id = nghttp2_submit_request(session_, nullptr, nva, nvlen, body, call);
  if (id > 0) {
    Link<&H2Call::up_hook>(&calls_, call);
    MarkDirty();
  }
  return id;
}

void UpstreamConnection::Remove(H2Call* call) { Unlink<&H2Call::up_hook>(&calls_, call); }

Pipe* UpstreamConnection::OutgoingPipe(H2Call* call) { return call->request_pipe(); }

void UpstreamConnection::OnConnectDone() {
  int error = 0;
  socklen_t len = sizeof(error);
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error != 0) return Close(absl::StrCat("connect: ", strerror(error)));
  connected_ = true;
  worker_->SetEvents(fd_, this, EPOLLIN);
  if (owner_ != nullptr) owner_->Connected(this);
  MarkDirty();  // the preface and every request queued meanwhile
}

void UpstreamConnection::OnLost(absl::string_view why) {
  if (owner_ != nullptr) owner_->Failed(this, why, /*connect_failed=*/!connected_);
  while (calls_.head != nullptr) {
    H2Call* call = calls_.head;
    Unlink<&H2Call::up_hook>(&calls_, call);
    call->OnUpstreamLost(/*never_sent=*/!connected_, why);
  }
}

int UpstreamConnection::OnHeader(nghttp2_session* session, const nghttp2_frame* frame,
                                 const uint8_t* name, size_t namelen, const uint8_t* value,
                                 size_t valuelen, uint8_t, void*) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (H2Call* call = CallOf(session, frame->hd.stream_id)) {
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
  H2Call* call = CallOf(session, frame->hd.stream_id);
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
  if (H2Call* call = CallOf(session, stream_id)) {
    call->OnResponseData(data, len);
  } else {
    nghttp2_session_consume(session, stream_id, len);
  }
  return 0;
}

int UpstreamConnection::OnStreamClose(nghttp2_session* session, int32_t stream_id,
                                      uint32_t error_code, void* user_data) {
  H2Call* call = CallOf(session, stream_id);
  if (call == nullptr) return 0;
  static_cast<UpstreamConnection*>(user_data)->Remove(call);
  call->OnUpstreamClosed(error_code);
  return 0;
}

// ---- H2Upstream ----

H2Upstream::H2Upstream(H2Worker* worker, std::string address)
    : worker_(worker), address_(std::move(address)) {}

H2Upstream::~H2Upstream() {
  if (current_ != nullptr) current_->owner_ = nullptr;
}

UpstreamConnection* H2Upstream::Acquire(int64_t now_ns, std::string* why) {
  if (current_ != nullptr && current_->usable()) return current_;
  if (failing_.load(std::memory_order_relaxed) && now_ns < retry_at_ns_) {
    *why =
        absl::StrCat(last_error_, " (reconnecting in ", (retry_at_ns_ - now_ns) / 1000000, " ms)");
    return nullptr;
  }
  UpstreamConnection* conn = worker_->Connect(this, address_, why);
  if (conn == nullptr) {
    Failed(nullptr, *why, /*connect_failed=*/true);
    return nullptr;
  }
  current_ = conn;
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
