#include "proxy/h2/downstream_connection.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proxy/h2/grpc_wire.h"
#include "proxy/h2/h2_call.h"
#include "proxy/h2/server_tls.h"

namespace rollout::proxy::h2 {
namespace {

constexpr int kResourceExhausted = 8;

absl::string_view View(const uint8_t* p, size_t n) {
  return absl::string_view(reinterpret_cast<const char*>(p), n);
}

}  // namespace

DownstreamConnection::DownstreamConnection(CallContext* context, int fd, int64_t now_ns, SSL* ssl)
    : H2Connection(context, fd), context_(context), guard_(context->limits(), now_ns) {
  context->listener_counters().ConnectionOpened();
  if (ssl != nullptr) {
    SSL_set_accept_state(ssl);
    StartTls(ssl);
  }
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  SetCommonCallbacks(callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(callbacks, &OnInvalidFrameRecv);
  // Without it nghttp2 drops some invalid fields (a name with a space) and lets the stream
  // go on; with it, every invalid field resets its stream (PROTOCOL_ERROR).
  nghttp2_session_callbacks_set_on_invalid_header_callback(
      callbacks, [](nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t, const uint8_t*,
                    size_t, uint8_t, void*) { return int{NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE}; });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
  nghttp2_option* option = NewOptions();
  nghttp2_session_server_new3(&session_, callbacks, this, option, context->session_memory());
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  const routing::ConnectionLimits& limits = context->limits();
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_bytes},
      // PRIORITY frames are then ignored at no cost (RFC 9218), not kept in a tree.
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  SubmitSettings(session_, settings, sizeof(settings) / sizeof(settings[0]));
  MarkDirty();
}

DownstreamConnection::~DownstreamConnection() { context_->listener_counters().ConnectionClosed(); }

void DownstreamConnection::CallEnded(H2Call* call) {
  if (!UnlinkCall<&H2Call::down_hook>(&calls_, call)) return;
  --open_calls_;
  if (calls_.head == nullptr) guard_.OnIdle(context_->now_ns());
}

void DownstreamConnection::SendGoaway() {
  if (goaway_last_stream_ >= 0 || closed()) return;
  goaway_last_stream_ = nghttp2_session_get_last_proc_stream_id(session_);
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, goaway_last_stream_, NGHTTP2_NO_ERROR, nullptr,
                        0);
  MarkDirty();
}

void DownstreamConnection::CheckTimers(int64_t now_ns) {
  if (closed()) return;
  using Timeout = metrics::ListenerCounters::Timeout;
  const bool idle_goaway_sent = goaway_last_stream_ >= 0;
  switch (guard_.Check(now_ns, has_calls(), idle_goaway_sent ? guard_.handshake_ns() : 0)) {
    case AbuseGuard::Expired::kNone:
      return;
    case AbuseGuard::Expired::kHandshake:
      context_->listener_counters().Count(Timeout::kHandshake);
      return Close("no HTTP/2 connection preface within handshake_timeout");
    case AbuseGuard::Expired::kHeader:
      // Nothing else may be sent on the connection until the block ends: it is stuck.
      context_->listener_counters().Count(Timeout::kHeader);
      return Close("a header block was left unfinished for handshake_timeout");
    case AbuseGuard::Expired::kIdle:
      if (!idle_goaway_sent) {
        context_->listener_counters().Count(Timeout::kIdle);
        return SendGoaway();
      }
      return Close("idle, and still open after the GOAWAY");
  }
}

void DownstreamConnection::Count(Violation v) { context_->listener_counters().Count(v); }

void DownstreamConnection::Terminate(Violation v) {
  if (terminated_) return;
  terminated_ = true;
  Count(v);
  goaway_last_stream_ = std::max(goaway_last_stream_, 0);
  nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
  MarkDirty();
}

void DownstreamConnection::OnSessionError(int lib_error) {
  switch (lib_error) {
    case NGHTTP2_ERR_FLOODED:
      return Count(Violation::kFlood);
    case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
      return Count(Violation::kContinuationFlood);
    default:
      return Count(Violation::kProtocolError);
  }
}

std::string DownstreamConnection::OnTlsFailure(int ssl_error) {
  context_->listener_counters().Count(ServerTls::FailureOf(ssl_, ssl_error));
  return "";
}

int DownstreamConnection::SendData(void* source, const uint8_t* framehd, size_t length) {
  return static_cast<H2Call*>(source)->response_pipe()->Send(framehd, length);
}

void DownstreamConnection::OnLost(absl::string_view) {
  while (calls_.head != nullptr) {
    H2Call* call = calls_.head;
    UnlinkCall<&H2Call::down_hook>(&calls_, call);
    --open_calls_;
    call->OnDownstreamLost();
  }
}

int DownstreamConnection::OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame,
                                         void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* conn = static_cast<DownstreamConnection*>(user_data);
  conn->guard_.OnHeaderBlockBegin(conn->context_->now_ns());
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers
  if (conn->goaway_last_stream_ >= 0 && frame->hd.stream_id > conn->goaway_last_stream_) {
    // nghttp2 ignores such streams once the GOAWAY is on the wire; until then, refuse them.
    conn->Count(Violation::kStreamAfterGoaway);
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                              NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  conn->guard_.OnStreamOpened();
  auto* call = new H2Call(conn->context_, conn, frame->hd.stream_id);
  LinkCall<&H2Call::down_hook>(&conn->calls_, call);
  ++conn->open_calls_;
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, call);
  return 0;
}

int DownstreamConnection::OnHeader(nghttp2_session* session, const nghttp2_frame* frame,
                                   const uint8_t* name, size_t namelen, const uint8_t* value,
                                   size_t valuelen, uint8_t, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  auto* conn = static_cast<DownstreamConnection*>(user_data);
  const bool was_too_large = conn->guard_.block_too_large();
  if (!conn->guard_.AddField(namelen, valuelen)) {
    if (!was_too_large) conn->Count(Violation::kHeaderListTooLarge);
    return 0;  // nothing more of the block is kept; the call is refused at its end
  }
  const absl::string_view n = View(name, namelen);
  if (absl::EndsWith(n, "-bin") && !IsBase64HeaderValue(View(value, valuelen))) {
    // A backend's gRPC library tears down the whole (shared) connection over it.
    conn->Count(Violation::kInvalidHeader);
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                              NGHTTP2_PROTOCOL_ERROR);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // the rest of the block is ignored
  }
  if (H2Call* call = StreamOf<H2Call>(session, frame->hd.stream_id)) {
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) call->OnRequestHeader(n, View(value, valuelen));
  }
  return 0;
}

int DownstreamConnection::OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame,
                                      void* user_data) {
  auto* conn = static_cast<DownstreamConnection*>(user_data);
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  H2Call* call = nullptr;
  switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) conn->guard_.OnPreface();
      return 0;
    case NGHTTP2_RST_STREAM:
      call = StreamOf<H2Call>(session, frame->hd.stream_id);
      if (call != nullptr && !call->answered() && conn->guard_.OnPrematureReset()) {
        conn->Terminate(Violation::kRapidReset);
      }
      return 0;
    case NGHTTP2_DATA:
      if (conn->guard_.OnData(frame->hd.length - std::min(frame->hd.length, frame->data.padlen),
                              end_stream)) {
        conn->Terminate(Violation::kEmptyFrames);
        return 0;
      }
      call = StreamOf<H2Call>(session, frame->hd.stream_id);
      if (call != nullptr && end_stream) call->OnRequestEnd();
      return 0;
    case NGHTTP2_HEADERS: {
      const bool too_large = conn->guard_.block_too_large();
      const size_t bytes = conn->guard_.block_bytes();
      conn->guard_.OnHeaderBlockEnd();
      call = StreamOf<H2Call>(session, frame->hd.stream_id);
      if (call == nullptr) return 0;
      if (too_large) {
        call->Refuse(
            kResourceExhausted,
            absl::StrCat("rollout-proxy: the request's header list is over ",
                         conn->context_->limits().max_header_list_bytes,
                         " bytes (connections.max_header_list_bytes; got at least ", bytes, ")"));
      } else if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        call->OnRequestHeadersDone(end_stream);
      } else if (end_stream) {
        call->OnRequestEnd();  // trailers from the client: gRPC has none; the stream ends
      }
      return 0;
    }
    default:
      return 0;
  }
}

int DownstreamConnection::OnInvalidFrameRecv(nghttp2_session*, const nghttp2_frame* frame,
                                             int lib_error, void* user_data) {
  auto* conn = static_cast<DownstreamConnection*>(user_data);
  if (lib_error == NGHTTP2_ERR_PROTO && frame->hd.type == NGHTTP2_HEADERS &&
      conn->open_calls_ >= conn->context_->limits().max_concurrent_streams) {
    // Over the limit once the client has acknowledged it: nghttp2 ends the connection.
    conn->Count(Violation::kTooManyStreams);
    return 0;
  }
  switch (lib_error) {
    case NGHTTP2_ERR_REFUSED_STREAM:
      conn->Count(Violation::kTooManyStreams);
      break;
    case NGHTTP2_ERR_HTTP_HEADER:
    case NGHTTP2_ERR_HTTP_MESSAGING:
      conn->Count(Violation::kInvalidHeader);
      break;
    default:
      conn->Count(Violation::kProtocolError);
      break;
  }
  return 0;
}

int DownstreamConnection::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id,
                                      const uint8_t* data, size_t len, void*) {
  if (H2Call* call = StreamOf<H2Call>(session, stream_id)) {
    call->OnRequestData(data, len);
  } else {
    nghttp2_session_consume(session, stream_id, len);
  }
  return 0;
}

int DownstreamConnection::OnStreamClose(nghttp2_session* session, int32_t stream_id,
                                        uint32_t error_code, void* user_data) {
  H2Call* call = StreamOf<H2Call>(session, stream_id);
  if (call == nullptr) return 0;
  static_cast<DownstreamConnection*>(user_data)->CallEnded(call);
  call->OnDownstreamClosed(error_code);
  return 0;
}

}  // namespace rollout::proxy::h2
