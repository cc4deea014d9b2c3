// H2Call: one client stream, forwarded to one backend stream: the wire side of a call.
//
// The policy is the call's CallFlow (proxy/call_flow.h): the listener slot, the route
// (method, metadata, override header, sticky key, weights, and the first message's
// model_name when a route needs it), the pool slot, the endpoint, retries and the end
// record. H2Call does what it decides on the wire: the request headers go to the chosen
// endpoint unchanged (every header, grpc-timeout included, so the backend sees the caller's
// deadline), and the backend's headers, DATA and trailers come back unchanged, plus
// `x-rollout-pool: <pool>`. Messages are never parsed (but for model_name, and the length
// prefixes when max_message_bytes is set). While the load-test gate samples the call's
// route, the request's bytes are also copied into the sample (proxy/request_sampler.h).
//
// Deadline: the proxy enforces the client's grpc-timeout itself, from the moment the request
// headers are in, whether or not the backend does.
//
// Cancellation: a client RST_STREAM resets the backend stream (CANCEL); a backend reset or
// a lost backend connection ends the client's call with a gRPC status naming the pool and
// endpoint. A call whose backend connection never came up has sent nothing, so the flow
// may retry it on another endpoint of the pool.
//
// Errors the proxy itself gives (no route, a concurrency limit, a bad model_name, no usable
// endpoint) are trailers-only responses with grpc-status and grpc-message, as a gRPC server
// would send them. Health: grpc.health.v1.Health/Check and Watch are answered by the proxy.
//
// State: the policy's phase is the flow's (CallFlow::Phase); the wire's is how far the
// answer to the client has got (Reply), and whether each of the two streams is open.
//
// Lifetime: created by the downstream connection on a request's HEADERS; deletes itself
// once both its streams are closed (or their connections gone). Thread-safety: one worker.
#ifndef ROLLOUT_PROXY_H2_H2_CALL_H_
#define ROLLOUT_PROXY_H2_H2_CALL_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "proxy/call_flow.h"
#include "proxy/call_router.h"
#include "proxy/h2/block_cache.h"
#include "proxy/h2/call_carrier.h"
#include "proxy/h2/call_context.h"
#include "proxy/h2/call_list.h"
#include "proxy/h2/grpc_wire.h"
#include "proxy/h2/header_block.h"
#include "proxy/h2/model_rewriter.h"
#include "proxy/h2/pipe.h"
#include "proxy/h2/upstream_stream.h"
#include "proxy/request_sampler.h"
#include "routing/routing_table.h"

namespace rollout::proxy::h2 {

class H2Mirror;
class UpstreamConnection;

class H2Call final : public UpstreamStream {
 public:
  H2Call(CallContext* context, CallCarrier* carrier, int32_t stream_id);
  ~H2Call();
  H2Call(const H2Call&) = delete;
  H2Call& operator=(const H2Call&) = delete;
  // From the worker's BlockCache: a warm worker takes no malloc for a call.
  static void* operator new(size_t size) { return Cache().Get(size); }
  static void operator delete(void* block, size_t size) { Cache().Put(block, size); }

  // Downstream (client) stream events.
  void OnRequestHeader(absl::string_view name, absl::string_view value);
  void OnRequestHeadersDone(bool end_stream);
  void OnRequestData(const uint8_t* data, size_t size);
  void OnRequestEnd();
  void OnDownstreamClosed(uint32_t error_code);
  void OnDownstreamLost();
  // The client's request broke a limit of the listener: it gets `code` and `message`, and
  // nothing reaches a backend.
  void Refuse(int code, absl::string_view message) { Fail(code, message); }
  // The client's call has its end (a status, or a reset).
  bool answered() const { return reply_ == Reply::kEnded; }
  // A Health/Watch call: the status changed; or the drain began, and the stream ends (OK).
  void OnHealthChanged(bool serving);
  void EndHealthWatch();

  // Upstream (backend) stream events (see UpstreamStream).
  void OnResponseHeader(absl::string_view name, absl::string_view value, bool trailer) override;
  void OnResponseHeadersDone(bool end_stream) override;
  void OnResponseData(const uint8_t* data, size_t size) override;
  void OnResponseEnd() override;
  void OnUpstreamClosed(uint32_t error_code) override;
  void OnUpstreamLost(bool never_sent, absl::string_view why) override;

  Pipe* request_pipe() override { return &request_; }
  Pipe* response_pipe() { return &response_; }

  // The deadline the client gave (grpc-timeout) has passed: DEADLINE_EXCEEDED to the
  // client, RST_STREAM(CANCEL) to the backend.
  void OnDeadline();
  int64_t deadline_ns() const { return deadline_ns_; }

  CallHook<H2Call> down_hook;
  CallHook<H2Call> deadline_hook;  // on the worker's DeadlineList while it has a deadline

 private:
  // Up to 256 free calls per worker thread (about 1 MiB); sized for c8×m16 and more.
  static BlockCache& Cache() {
    thread_local BlockCache cache(sizeof(H2Call), 256);
    return cache;
  }
  // How far the answer to the client has got. It only moves forward; kEnded may follow
  // any phase (a client reset, a lost connection).
  enum class Reply {
    kWaiting,    // nothing sent to the client yet
    kStreaming,  // headers sent; the backend's data and trailers follow
    kFinishing,  // headers sent; the proxy's own status (local_code_) goes out next, in
                 // place of the rest of the backend's answer
    kEnded,      // the client's call has its end: trailers (or trailers-only), or a reset
  };
  // Nothing more of the backend's answer goes to the client.
  bool closing() const { return reply_ >= Reply::kFinishing; }

  // Asks the call's flow where it goes (`first`: with its listener slot), and does that:
  // read the model, refuse the call, or open the backend stream (and the shadow's).
  void Route(bool first);
  // The first message's model_name, once enough of it is in; false while waiting.
  bool TryReadModel();
  // Copies the request for the load-test gate's sample, when its route is being sampled.
  void StartSample(RequestSampler* sampler);
  // Opens the shadow copy for a mirrored route (the target's mirror_endpoint).
  void StartMirror();
  // The chosen pool pins the model (model_name / model_version): rewrites what is queued
  // and every request message from now on.
  void StartRewrite();
  // Request bytes into the request pipe, through the rewrite when there is one; false when
  // the call failed on them.
  bool PushRequest(const uint8_t* data, size_t size);
  // Opens the backend stream on the flow's endpoint, or retries as the flow decides.
  void SendOrRetry();
  // The attempt on the flow's endpoint never reached it: another endpoint of the pool, or
  // the call fails as the flow decides (UNAVAILABLE naming the pool, endpoint and `why`).
  void RetryOrFail(absl::string_view why);
  // `starts` response messages began in the DATA just read: the stream metrics.
  void CountMessages(size_t starts);
  // The response pipe has run dry after the backend's end: send the trailers.
  void OnResponseDrained(uint32_t* data_flags);
  // Opens the backend stream on the flow's endpoint; false if that endpoint cannot take it.
  bool StartAttempt(std::string* why);
  // grpc.health.v1.Health/Check, or Watch: a stream of answers as the status changes.
  void AnswerHealth(bool watch);
  // Sends response_headers_ (and x-rollout-pool once a pool was chosen); the body follows
  // from the response pipe.
  void SendResponseHeaders();
  // Ends the client's call with a status of the proxy's own (trailers-only, or trailers
  // after what was already sent).
  void Fail(int code, absl::string_view message);
  // Records the call's end in metrics and endpoint state, once, and in the access log when
  // the call is sampled.
  void RecordEnd(int code);
  void Log(AccessLog::Shard* log, int code, int64_t now_ns);
  void ResetUpstream();
  void MaybeDelete();
  // nghttp2 data providers.
  static ssize_t ReadRequest(nghttp2_session*, int32_t, uint8_t*, size_t length,
                             uint32_t* data_flags, nghttp2_data_source* source, void*);
  static ssize_t ReadResponse(nghttp2_session*, int32_t, uint8_t*, size_t length,
                              uint32_t* data_flags, nghttp2_data_source* source, void*);

  class MetadataView final : public routing::MetadataView {
   public:
    explicit MetadataView(const HeaderBlock* headers) : headers_(headers) {}
    std::optional<absl::string_view> Get(absl::string_view key) const override {
      return headers_->Get(key);
    }

   private:
    const HeaderBlock* headers_;
  };

  CallContext* const context_;
  CallCarrier* const carrier_;
  H2Connection* down_;  // carrier_'s connection; null once it is gone
  const int32_t down_stream_;
  UpstreamConnection* up_ = nullptr;  // the current attempt's connection
  int32_t up_stream_ = 0;

  HeaderBlock request_headers_;
  HeaderBlock response_headers_;
  HeaderBlock trailers_;
  std::string local_message_;  // the grpc-message of a status the proxy gives
  std::string local_code_;
  Pipe request_;   // client -> backend
  Pipe response_;  // backend -> client
  MessageSizeGuard request_guard_;
  MessageSizeGuard response_guard_;
  MessageStarts response_starts_;  // for the first-message and gap times
  int64_t started_ns_ = 0;         // the request headers were in
  int64_t last_message_ns_ = 0;    // the last response message began
  bool first_message_seen_ = false;

  MetadataView metadata_view_{&request_headers_};
  routing::CallAttributes attrs_;
  std::string inflated_;        // the start of a compressed first message, for attrs_.model
  int64_t deadline_ns_ = 0;     // 0: none
  int status_for_local_ = 0;    // the code of local_code_
  CallFlow flow_;               // the proxy's policy for the call: route, slots, retries
  H2Mirror* mirror_ = nullptr;  // the shadow copy, until the call's end
  std::unique_ptr<ModelRewriter> rewriter_;       // when the call's pool pins the model
  std::unique_ptr<RequestSampler::Copy> sample_;  // while the request is copied for a sample

  Reply reply_ = Reply::kWaiting;
  // Whether each of the call's two streams is still open; the call deletes itself once
  // neither is.
  bool down_open_ = true;
  bool up_open_ = false;
  bool health_ = false;  // answered by the proxy; the request body is dropped
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_H2_CALL_H_
