// ProxyCall: one client call forwarded to one backend, as a state machine on a worker's
// completion queue.
//
// Two pumps run at once, each with at most one read and one write outstanding, so a slow
// reader slows its writer instead of filling memory (flow control stays end to end):
//   client -> backend:  down.Read  -> up.Write   -> down.Read ... -> up.WritesDone
//   backend -> client:  up.ReadInitialMetadata -> down.SendInitialMetadata
//                       -> up.Read -> down.Write -> up.Read ... -> up.Finish -> down.Finish
// Retry: if the upstream StartCall fails (the call never reached the backend: no
// connection, so no request headers were taken) and the call ends UNAVAILABLE, it is
// started again on another usable endpoint of the same pool, at most twice. Nothing has
// been written upstream by then (writes wait for StartCall), and a client message read in
// the meantime waits in down_msg_. A call whose StartCall succeeded is never retried.
// Messages are grpc::ByteBuffers and are never parsed. Request metadata (less hop-by-hop
// keys), :authority and the deadline go upstream; the backend's headers, trailers and full
// status (code, message, details) come back, plus `x-rollout-pool: <pool>`. A client
// cancel cancels the upstream call; a failed write to the client cancels it too.
// Overload: a call over the listener's or its pool's concurrency limit is refused at once
// with RESOURCE_EXHAUSTED (the pool's refusals count against the route and pool).
//
// Lifetime: created by Spawn() with a RequestCall posted; deletes itself once every
// operation it started has completed. Thread-safety: all of it runs on the worker's thread.
#ifndef ROLLOUT_PROXY_PROXY_CALL_H_
#define ROLLOUT_PROXY_PROXY_CALL_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/completion_tag.h"
#include "proxy/mirror_call.h"
#include "proxy/worker.h"
#include "routing/routing_table.h"

namespace rollout::proxy {

class ProxyCall final {
 public:
  // Posts one RequestCall on `worker`'s queue.
  static void Spawn(Worker* worker);
  // Routes a completion-queue event to its call (a CompletionTag handler).
  static void Dispatch(void* owner, int op, bool ok);

  ProxyCall(const ProxyCall&) = delete;
  ProxyCall& operator=(const ProxyCall&) = delete;

 private:
  enum Op : uint8_t {
    kAccept,
    kDone,
    kUpStart,
    kUpHeaders,
    kUpRead,
    kUpWrite,
    kUpWritesDone,
    kUpFinish,
    kDownHeaders,
    kDownRead,
    kFirstRead,  // the first client message, read before routing when the model decides
    kDownWrite,
    kDownFinish,
    kNumOps,
  };

  explicit ProxyCall(Worker* worker);
  ~ProxyCall() { worker_->CallDestroyed(); }

  // Returns the tag for `op` and counts it as outstanding.
  void* Begin(Op op) {
    ++pending_;
    return &tags_[op];
  }
  void Handle(Op op, bool ok);

  void OnAccept(bool ok);
  void OnFirstRead(bool ok);
  // Routes the call and starts the upstream call, or finishes it with the routing error.
  // `first_message_read`: down_msg_ already holds the first message (or its absence).
  void RouteAndStart(bool first_message_read);
  void OnDone();
  void OnUpHeaders(bool ok);
  void OnDownHeaders();
  void OnUpStart(bool ok);
  // Both StartCall and Finish of the upstream attempt are in: retry it, or finish.
  void AfterUpstream();
  // Starts the call again on another endpoint of the pool; false if there is none.
  bool Retry();
  void OnDownRead(bool ok);
  void ForwardToUpstream();
  void OnUpWrite(bool ok);
  void OnUpRead(bool ok);
  void OnDownWrite(bool ok);
  void OnUpFinish();
  void StartUpstream(bool first_message_read);
  // One upstream attempt: a fresh context and call on target_.endpoint.
  void StartAttempt();
  void FinishUpstream();
  void FinishDownstream(const grpc::Status& status);

  Worker* const worker_;
  CompletionTag tags_[kNumOps];
  int pending_ = 0;
  // StartCall, Write and WritesDone share one op set in gRPC's ClientAsyncReaderWriter, so
  // nothing is written upstream before StartCall has completed; a message read from the
  // client before then waits in down_msg_ (down_read_ok_ says whether it is one).
  bool up_started_ = false;
  bool forward_waiting_ = false;
  bool down_read_ok_ = false;
  bool up_finishing_ = false;
  bool client_gone_ = false;  // the done-tag saw the call cancelled
  bool down_finishing_ = false;
  bool up_start_done_ = false, up_start_ok_ = false, up_finish_done_ = false;
  int retries_ = 0;
  static constexpr int kMaxRetries = 2;

  grpc::GenericServerContext down_ctx_;
  grpc::GenericServerAsyncReaderWriter down_;
  grpc::ByteBuffer down_msg_;  // client -> backend, one in flight

  // Request metadata as routing sees it.
  class MetadataView final : public routing::MetadataView {
   public:
    explicit MetadataView(const grpc::GenericServerContext* ctx) : ctx_(ctx) {}
    std::optional<absl::string_view> Get(absl::string_view key) const override {
      const auto& md = ctx_->client_metadata();
      auto it = md.find(grpc::string_ref(key.data(), key.size()));
      if (it == md.end()) return std::nullopt;
      return absl::string_view(it->second.data(), it->second.size());
    }

   private:
    const grpc::GenericServerContext* ctx_;
  };
  MetadataView metadata_view_{&down_ctx_};
  routing::CallAttributes attrs_;
  std::string first_bytes_;  // the start of the first message, when the model was needed

  Worker::Target target_{};
  int64_t start_ns_ = 0;  // when the call was routed, on metrics::MonotonicNowNs()
  std::optional<grpc::ClientContext> up_ctx_;  // one per attempt, built in place
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> up_;
  grpc::ByteBuffer up_msg_;  // backend -> client, one in flight
  grpc::Status up_status_;
  // The call's places under the listener's and its pool's concurrency limits.
  ConcurrencySlot listener_slot_;
  ConcurrencySlot pool_slot_;
  MirrorCall* mirror_ = nullptr;  // the shadow copy, until the client has the primary's status
  grpc::Status primary_status_;   // kept for the mirror's verdict
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_PROXY_CALL_H_
