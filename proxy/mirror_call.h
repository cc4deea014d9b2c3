// MirrorCall: the shadow copy of one proxied call, sent to a route's mirror pool.
//
// The primary call (ProxyCall) hands it copies of what the client sends and of what the
// primary backend answers; the mirror's own answers are kept and, once both calls have
// finished, compared (CompareAnswers) and counted as match, mismatch, error or dropped on
// the (route, mirror pool) series. The client never sees the mirror's answers, and the
// mirror can never slow or fail the primary: it has its own flow control, a small bounded
// queue of client messages, and when it falls behind it is cancelled and counted dropped.
//
// Launch is deferred: the shadow call goes out once the primary has finished, or as soon as
// the client sends a second message (a stream, mirrored live). A unary call's shadow work
// thus happens after the client has its answer, and costs the primary nothing.
//
// Lifetime: owns itself; deletes itself once its operations are done and the primary has
// called PrimaryFinished(). Thread-safety: runs on the worker's thread only.
#ifndef ROLLOUT_PROXY_MIRROR_CALL_H_
#define ROLLOUT_PROXY_MIRROR_CALL_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "metrics/call_series.h"
#include "proxy/completion_tag.h"
#include "proxy/upstream_set.h"
#include "proxy/worker.h"

namespace rollout::proxy {

class MirrorCall final {
 public:
  static constexpr size_t kMaxQueued = 8;    // client messages waiting to go out
  static constexpr size_t kMaxAnswers = 64;  // answers kept per side for comparison

  // Starts the shadow call on `worker`'s queue; it counts as one of the worker's live calls
  // until it ends.
  static MirrorCall* Start(Worker* worker, const grpc::GenericServerContext& primary,
                           UpstreamSet::Endpoint* endpoint, metrics::CallSeries::Cell* stats,
                           double tolerance);

  void Send(const grpc::ByteBuffer& message);  // a client message
  void CloseSend();                            // the client half-closed
  void PrimaryAnswer(const grpc::ByteBuffer& message);
  // The primary call is over; the ProxyCall must not touch this object afterwards.
  void PrimaryFinished(const grpc::Status& status, bool client_cancelled);

 private:
  enum Op { kStart, kRead, kWrite, kWritesDone, kFinish, kNumOps };

  MirrorCall(Worker* worker, UpstreamSet::Endpoint* endpoint, metrics::CallSeries::Cell* stats,
             double tolerance);
  ~MirrorCall() { worker_->MirrorEnded(&ctx_); }
  static void Dispatch(void* owner, int op, bool ok);
  void* Begin(Op op) {
    ++pending_;
    return &tags_[op];
  }
  void Launch();
  void Pump();
  void Drop();
  void MaybeConclude();

  CompletionTag tags_[kNumOps];
  int pending_ = 0;
  UpstreamSet::Endpoint* const endpoint_;
  metrics::CallSeries::Cell* const stats_;
  const double tolerance_;
  Worker* const worker_;
  std::string method_;
  std::chrono::system_clock::time_point deadline_;
  grpc::CompletionQueue* cq_;

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  std::deque<grpc::ByteBuffer> queue_;
  grpc::ByteBuffer read_buffer_;
  bool launched_ = false, started_ = false, writing_ = false, close_requested_ = false,
       closed_ = false;
  bool finished_ = false, dropped_ = false, primary_done_ = false, concluded_ = false;
  bool primary_ok_ = false;
  int64_t launched_ns_ = 0, finished_ns_ = 0;  // the shadow call's own time
  grpc::Status status_;
  std::vector<std::string> primary_answers_, shadow_answers_;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_MIRROR_CALL_H_
