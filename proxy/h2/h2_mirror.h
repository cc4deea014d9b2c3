// H2Mirror: the shadow copy of one proxied call on the frame-level plane, a second backend
// stream on a route's mirror pool.
//
// The primary call (H2Call) opens it once it has chosen its own backend, with the same
// request headers plus `x-rollout-mirror: 1`, and hands it a copy of every request byte
// (every message of a stream), and of every answer byte the primary backend sends back.
// The shadow's own answers never reach the client. Once both have ended, the answers are
// compared (CompareAnswers: byte for byte, numerically for KServe ModelInfer and
// ModelStreamInfer, and top-1 agreement for classifier outputs) and counted on the
// (route, mirror pool) series as match, mismatch, error (the shadow failed, or timed out)
// or dropped.
//
// The shadow can never slow or fail the primary: it holds no flow-control window of the
// client's (its copy of the request is its own), its answers' window is returned at once,
// and what it holds (request bytes not yet sent, answers kept for the comparison) is
// bounded per mirror (kMaxBytes) and per worker (CallContext::kMaxMirrorBytes). Past either
// bound it is reset and counted dropped. It ends by the primary's deadline and at most
// kMaxDuration after it started.
//
// Lifetime: owns itself; deleted once its stream is over and the primary has called
// PrimaryFinished(), which the H2Call does once, at its end. Thread-safety: one worker.
#ifndef ROLLOUT_PROXY_H2_H2_MIRROR_H_
#define ROLLOUT_PROXY_H2_H2_MIRROR_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string>

#include "metrics/call_series.h"
#include "proxy/call_router.h"
#include "proxy/h2/call_context.h"
#include "proxy/h2/call_list.h"
#include "proxy/h2/header_block.h"
#include "proxy/h2/message_splitter.h"
#include "proxy/h2/model_rewriter.h"
#include "proxy/h2/pipe.h"
#include "proxy/h2/upstream_stream.h"

namespace rollout::proxy::h2 {

class UpstreamConnection;

class H2Mirror final : public UpstreamStream {
 public:
  static constexpr size_t kMaxAnswers = 64;  // answers kept per side for the comparison
  static constexpr size_t kMaxBytes = 8 << 20;
  static constexpr int64_t kMaxDuration = int64_t{30} * 1000 * 1000 * 1000;

  // Opens the shadow stream on target.mirror_endpoint, or counts an error and returns null
  // if that endpoint cannot take it. `deadline_ns` is the primary's (0: none).
  static H2Mirror* Start(CallContext* context, const CallRouter::Target& target,
                         const HeaderBlock& request_headers, int64_t deadline_ns);

  // From the primary call.
  void OnClientData(const uint8_t* data, size_t size);
  void OnClientEnd();
  void OnPrimaryData(const uint8_t* data, size_t size);
  // The primary ended with gRPC status `code`; the caller must forget this mirror now.
  void PrimaryFinished(int code);

  // From the worker: when the shadow must end by, and ending it then.
  int64_t deadline_ns() const { return deadline_ns_; }
  void Expire();

  // UpstreamStream: the shadow backend's side.
  void OnResponseHeader(absl::string_view name, absl::string_view value, bool trailer) override;
  void OnResponseHeadersDone(bool) override {}
  void OnResponseData(const uint8_t* data, size_t size) override;
  void OnResponseEnd() override {}
  void OnUpstreamClosed(uint32_t error_code) override;
  void OnUpstreamLost(bool never_sent, absl::string_view why) override;
  Pipe* request_pipe() override { return &request_; }

  CallHook<H2Mirror> worker_hook;  // on the worker's list of mirrors

 private:
  H2Mirror(CallContext* context, const CallRouter::Target& target, int64_t deadline_ns);
  ~H2Mirror() override;
  // Re-counts what this mirror holds; past a bound, drops it if `may_drop`.
  void Account(bool may_drop = true);
  // Resets the shadow stream and frees what it holds; it counts as dropped.
  void Drop();
  void ResetStream();
  void StreamOver(bool failed);
  void MaybeConclude();
  void MaybeDelete();
  static ssize_t ReadRequest(nghttp2_session*, int32_t, uint8_t*, size_t length,
                             uint32_t* data_flags, nghttp2_data_source* source, void*);

  CallContext* const context_;
  UpstreamSet::Endpoint* const endpoint_;
  metrics::CallSeries::Cell* const stats_;
  const double tolerance_;
  std::string method_;
  UpstreamConnection* up_ = nullptr;
  int32_t stream_ = 0;
  Pipe request_;
  std::unique_ptr<ModelRewriter> rewriter_;  // when the mirror's pool pins the model
  MessageSplitter primary_{kMaxAnswers};
  MessageSplitter shadow_{kMaxAnswers};
  size_t accounted_ = 0;  // what the worker's mirror budget counts for this mirror
  int64_t started_ns_;
  int64_t finished_ns_ = 0;
  int64_t deadline_ns_;
  int shadow_status_ = -1;  // grpc-status of the shadow's answer (-1: none)
  int primary_code_ = -1;
  bool open_ = false;  // the shadow stream is open on up_
  bool shadow_done_ = false;
  bool shadow_failed_ = false;
  bool dropped_ = false;
  bool concluded_ = false;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_H2_MIRROR_H_
