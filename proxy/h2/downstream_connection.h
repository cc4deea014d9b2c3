// DownstreamConnection: the server side of the nghttp2 data plane, one client's connection
// to the proxy (see connection.h for the common part). Each request stream becomes an
// H2Call.
//
// Clients may be hostile, so the connection enforces the listener's ConnectionLimits before
// anything reaches a backend (AbuseGuard keeps the counts):
//  - SETTINGS_MAX_CONCURRENT_STREAMS and SETTINGS_MAX_HEADER_LIST_SIZE are advertised; a
//    header block over the size gets RESOURCE_EXHAUSTED naming the limit, and none of it
//    is kept past the limit (an HPACK bomb costs the proxy nothing);
//  - invalid fields reset the stream (PROTOCOL_ERROR): nghttp2 checks names, values and
//    connection-specific headers (RFC 9113 8.2), and this class that a -bin value is
//    base64, as gRPC requires;
//  - Rapid Reset, empty DATA floods and a header block left unfinished close the
//    connection (GOAWAY ENHANCE_YOUR_CALM); nghttp2 closes it on SETTINGS/PING floods and
//    too many CONTINUATION frames;
//  - a stream opened after the proxy's own GOAWAY is refused (REFUSED_STREAM), never a call;
//  - CheckTimers() closes a connection without a preface after handshake_timeout, and one
//    without calls after idle_timeout (GOAWAY first, then the socket).
// Each refusal is counted in metrics::ListenerCounters.
//
// Thread-safety: one worker thread.
#ifndef ROLLOUT_PROXY_H2_DOWNSTREAM_CONNECTION_H_
#define ROLLOUT_PROXY_H2_DOWNSTREAM_CONNECTION_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>

#include "absl/strings/string_view.h"
#include "metrics/listener_counters.h"
#include "proxy/h2/abuse_guard.h"
#include "proxy/h2/call_carrier.h"
#include "proxy/h2/call_context.h"
#include "proxy/h2/call_list.h"
#include "proxy/h2/connection.h"

namespace rollout::proxy::h2 {

class DownstreamConnection final : public H2Connection, public CallCarrier {
 public:
  // `ssl`: the listener serves TLS; the connection owns it and runs the handshake first.
  DownstreamConnection(CallContext* context, int fd, int64_t now_ns, SSL* ssl = nullptr);
  ~DownstreamConnection() override;

  // CallCarrier.
  H2Connection* connection() override { return this; }
  void CallEnded(H2Call* call) override;
  bool has_calls() const { return calls_.head != nullptr; }
  // Graceful GOAWAY: streams already opened run on, no new ones are accepted.
  void SendGoaway();
  // Acts on the guard's clocks (the worker calls it every tick).
  void CheckTimers(int64_t now_ns);

 private:
  using Violation = metrics::ListenerCounters::Violation;

  void OnLost(absl::string_view why) override;
  void OnSessionError(int lib_error) override;
  std::string OnTlsFailure(int ssl_error) override;
  int SendData(void* source, const uint8_t* framehd, size_t length) override;
  // Counts `v` and ends the session at once: GOAWAY(ENHANCE_YOUR_CALM), nothing more read.
  void Terminate(Violation v);
  void Count(Violation v);
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnInvalidFrameRecv(nghttp2_session*, const nghttp2_frame* frame, int lib_error,
                                void* user_data);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data);

  CallContext* const context_;
  AbuseGuard guard_;
  CallList<H2Call> calls_;
  uint32_t open_calls_ = 0;          // on calls_
  int32_t goaway_last_stream_ = -1;  // >= 0 once a GOAWAY of ours is queued
  bool terminated_ = false;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_DOWNSTREAM_CONNECTION_H_
