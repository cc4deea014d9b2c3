// DownstreamConnection: the server side of the nghttp2 data plane, one client's connection
// to the proxy (see connection.h for the common part). Each request stream becomes an
// H2Call.
//
// Thread-safety: one worker thread.
#ifndef ROLLOUT_PROXY_H2_DOWNSTREAM_CONNECTION_H_
#define ROLLOUT_PROXY_H2_DOWNSTREAM_CONNECTION_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>

#include "absl/strings/string_view.h"
#include "proxy/h2/call_list.h"
#include "proxy/h2/connection.h"

namespace rollout::proxy::h2 {

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

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_DOWNSTREAM_CONNECTION_H_
