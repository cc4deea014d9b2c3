// UpstreamStream: what one stream on a backend connection reports to. The proxied call
// (H2Call) is one; the shadow copy of a mirrored call (H2Mirror) is the other. The
// UpstreamConnection keeps its streams on a CallList through up_hook, hands each stream's
// frames to it, and tells every stream when the connection is gone.
//
// Thread-safety: one worker thread.
#ifndef ROLLOUT_PROXY_H2_UPSTREAM_STREAM_H_
#define ROLLOUT_PROXY_H2_UPSTREAM_STREAM_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "proxy/h2/call_list.h"
#include "proxy/h2/pipe.h"

namespace rollout::proxy::h2 {

class UpstreamStream {
 public:
  virtual ~UpstreamStream() = default;

  // A header of the response (`trailer`: of its trailers).
  virtual void OnResponseHeader(absl::string_view name, absl::string_view value, bool trailer) = 0;
  // The response's headers are in; `end_stream`: trailers-only.
  virtual void OnResponseHeadersDone(bool end_stream) = 0;
  // Response DATA; the stream returns its window (nghttp2_session_consume) when it has
  // passed the bytes on.
  virtual void OnResponseData(const uint8_t* data, size_t size) = 0;
  virtual void OnResponseEnd() = 0;
  // The stream closed (error_code: the RST_STREAM code, or NO_ERROR).
  virtual void OnUpstreamClosed(uint32_t error_code) = 0;
  // The connection is gone; `never_sent`: it never came up, nothing was written.
  virtual void OnUpstreamLost(bool never_sent, absl::string_view why) = 0;
  // The request bytes the connection sends on this stream.
  virtual Pipe* request_pipe() = 0;

  CallHook<UpstreamStream> up_hook;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_UPSTREAM_STREAM_H_
