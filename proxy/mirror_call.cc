#include "proxy/mirror_call.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "proxy/metadata_filter.h"
#include "proxy/mirror_comparator.h"

namespace rollout::proxy {
namespace {

std::string Flatten(const grpc::ByteBuffer& message) {
  grpc::Slice all;
  if (!message.DumpToSingleSlice(&all).ok()) return "";
  return std::string(reinterpret_cast<const char*>(all.begin()), all.size());
}

}  // namespace

MirrorCall::MirrorCall(Worker* worker, UpstreamSet::Endpoint* endpoint,
                       metrics::CallSeries::Cell* stats, double tolerance)
    : endpoint_(endpoint), stats_(stats), tolerance_(tolerance), worker_(worker) {
  for (int op = 0; op < kNumOps; ++op) tags_[op] = CompletionTag{&MirrorCall::Dispatch, this, op};
  worker_->MirrorStarted(&ctx_);
}

MirrorCall* MirrorCall::Start(Worker* worker, const grpc::GenericServerContext& primary,
                              UpstreamSet::Endpoint* endpoint, metrics::CallSeries::Cell* stats,
                              double tolerance) {
  auto* m = new MirrorCall(worker, endpoint, stats, tolerance);
  m->cq_ = worker->cq();
  m->method_ = primary.method();
  CopyRequestContext(primary, &m->ctx_);
  m->ctx_.AddMetadata("x-rollout-mirror", "1");  // backends can tell shadow traffic apart
  // The primary's deadline, but never unbounded: a mirror must end.
  m->deadline_ = primary.deadline();
  return m;
}

void MirrorCall::Launch() {
  if (launched_ || dropped_) return;
  launched_ = true;
  launched_ns_ = metrics::MonotonicNowNs();
  // The primary's deadline, but never unbounded: a mirror must end.
  const auto cap = std::chrono::system_clock::now() + std::chrono::seconds(30);
  ctx_.set_deadline(std::min(deadline_, cap));
  call_ = endpoint_->stub->PrepareCall(&ctx_, method_, cq_);
  call_->StartCall(Begin(kStart));
  call_->Read(&read_buffer_, Begin(kRead));
}

void MirrorCall::Dispatch(void* owner, int op, bool ok) {
  auto* m = static_cast<MirrorCall*>(owner);
  --m->pending_;
  switch (static_cast<Op>(op)) {
    case kStart:
      m->started_ = true;
      m->Pump();
      break;
    case kWrite:
      m->writing_ = false;
      if (!m->queue_.empty()) m->queue_.pop_front();
      if (ok) m->Pump();
      break;
    case kWritesDone:
      break;
    case kRead:
      if (ok) {
        if (m->shadow_answers_.size() < kMaxAnswers) {
          m->shadow_answers_.push_back(Flatten(m->read_buffer_));
        }
        m->call_->Read(&m->read_buffer_, m->Begin(kRead));
      } else {
        m->call_->Finish(&m->status_, m->Begin(kFinish));
      }
      break;
    case kFinish:
      m->finished_ = true;
      m->finished_ns_ = metrics::MonotonicNowNs();
      m->MaybeConclude();
      break;
    case kNumOps:
      break;
  }
  if (m->pending_ == 0 && m->primary_done_) delete m;
}

void MirrorCall::Pump() {
  // StartCall, Write and WritesDone share one op set: one at a time, after StartCall.
  if (!started_ || writing_ || dropped_ || finished_) return;
  if (!queue_.empty()) {
    writing_ = true;
    call_->Write(queue_.front(), Begin(kWrite));
  } else if (close_requested_ && !closed_) {
    closed_ = true;
    writing_ = true;  // WritesDone uses the same op set; nothing may follow it anyway
    call_->WritesDone(Begin(kWritesDone));
  }
}

void MirrorCall::Drop() {
  if (dropped_) return;
  dropped_ = true;
  if (launched_) ctx_.TryCancel();
}

void MirrorCall::Send(const grpc::ByteBuffer& message) {
  if (dropped_) return;
  if (queue_.size() >= kMaxQueued) return Drop();  // the mirror fell behind the client
  queue_.push_back(message);         // a reference to the same slices, not a copy of the bytes
  if (queue_.size() >= 2) Launch();  // a stream: mirror it live
  Pump();
}

void MirrorCall::CloseSend() {
  close_requested_ = true;
  Pump();
}

void MirrorCall::PrimaryAnswer(const grpc::ByteBuffer& message) {
  if (primary_answers_.size() < kMaxAnswers) primary_answers_.push_back(Flatten(message));
}

void MirrorCall::PrimaryFinished(const grpc::Status& status, bool client_cancelled) {
  primary_done_ = true;
  primary_ok_ = status.ok();
  if (client_cancelled) Drop();
  Launch();
  if (!launched_) finished_ = true;  // dropped before it ever went out
  MaybeConclude();
  if (pending_ == 0) delete this;
}

void MirrorCall::MaybeConclude() {
  if (concluded_ || !finished_ || !primary_done_) return;
  concluded_ = true;
  if (dropped_)
    return stats_->OnMirror(metrics::MirrorResult::kDropped, 0, metrics::MonotonicNowNs());
  if (!primary_ok_) return;  // nothing to compare a failed primary with
  const int64_t now = metrics::MonotonicNowNs();
  const uint64_t took = static_cast<uint64_t>(std::max<int64_t>(1, finished_ns_ - launched_ns_));
  if (!status_.ok()) return stats_->OnMirror(metrics::MirrorResult::kError, 0, now, took);
  const MirrorVerdict v = CompareAnswers(method_, primary_answers_, shadow_answers_, tolerance_);
  stats_->OnMirror(v.match ? metrics::MirrorResult::kMatch : metrics::MirrorResult::kMismatch,
                   v.max_difference, now, took);
  if (v.top1_agree + v.top1_disagree > 0) stats_->OnMirrorTop1(v.top1_agree, v.top1_disagree);
}

}  // namespace rollout::proxy
