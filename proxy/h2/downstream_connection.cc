#include "proxy/h2/downstream_connection.h"

#include "proxy/h2/h2_call.h"
#include "proxy/h2/h2_worker.h"

namespace rollout::proxy::h2 {

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
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  SubmitSettings(session_, settings, 0);
  MarkDirty();
}

DownstreamConnection::~DownstreamConnection() = default;

void DownstreamConnection::Add(H2Call* call) { LinkCall<&H2Call::down_hook>(&calls_, call); }
void DownstreamConnection::Remove(H2Call* call) { UnlinkCall<&H2Call::down_hook>(&calls_, call); }

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
    UnlinkCall<&H2Call::down_hook>(&calls_, call);
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

}  // namespace rollout::proxy::h2
