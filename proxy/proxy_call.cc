#include "proxy/proxy_call.h"

#include <grpc/grpc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/metadata_filter.h"
#include "routing/model_name_reader.h"

namespace rollout::proxy {
namespace {

constexpr char kPoolHeader[] = "x-rollout-pool";

std::string ToString(grpc::string_ref s) { return std::string(s.data(), s.size()); }
absl::string_view ToView(grpc::string_ref s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

void ProxyCall::Spawn(Worker* worker) {
  auto* call = new ProxyCall(worker);
  call->worker_->service()->RequestCall(&call->down_ctx_, &call->down_, worker->cq(), worker->cq(),
                                        call->Begin(kAccept));
}

ProxyCall::ProxyCall(Worker* worker) : worker_(worker), down_(&down_ctx_) {
  worker_->CallCreated();
  for (int op = 0; op < kNumOps; ++op) tags_[op] = CompletionTag{&ProxyCall::Dispatch, this, op};
  // Registered now, delivered only if the call is accepted (then always, once).
  down_ctx_.AsyncNotifyWhenDone(&tags_[kDone]);
}

void ProxyCall::Dispatch(void* owner, int op, bool ok) {
  ProxyCall* call = static_cast<ProxyCall*>(owner);
  --call->pending_;
  call->Handle(static_cast<Op>(op), ok);
  if (call->pending_ == 0) delete call;
}

void ProxyCall::Handle(Op op, bool ok) {
  switch (op) {
    case kAccept:
      return OnAccept(ok);
    case kDone:
      return OnDone();
    case kUpStart:
      return OnUpStart(ok);  // a failed start also fails headers and reads
    case kUpHeaders:
      return OnUpHeaders(ok);
    case kUpRead:
      return OnUpRead(ok);
    case kUpWrite:
      return OnUpWrite(ok);
    case kUpWritesDone:
      return;
    case kUpFinish:
      return OnUpFinish();
    case kDownHeaders:
      return OnDownHeaders();
    case kDownRead:
      return OnDownRead(ok);
    case kFirstRead:
      return OnFirstRead(ok);
    case kDownWrite:
      return OnDownWrite(ok);
    case kDownFinish:
      if (mirror_ != nullptr) {
        mirror_->PrimaryFinished(primary_status_, client_gone_);
        mirror_ = nullptr;
      }
      return;
    case kNumOps:
      return;
  }
}

void ProxyCall::OnAccept(bool ok) {
  if (!ok) return;  // the server is shutting down; no done-tag follows
  ++pending_;       // the done-tag registered in the constructor is now live
  Spawn(worker_);   // keep the accept depth constant

  ConcurrencyLimit& limit = worker_->listener_limit();
  if (!listener_slot_.Acquire(&limit)) {
    return FinishDownstream(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("rollout-proxy: the listener is at its limit of ", limit.max(),
                                  " concurrent calls (max_concurrent_calls)")));
  }
  attrs_.method = down_ctx_.method();
  attrs_.metadata = &metadata_view_;
  RouteAndStart(/*first_message_read=*/false);
}

void ProxyCall::OnFirstRead(bool ok) {
  if (ok) {
    // Copy at most the bytes that can hold model_name; the message itself is forwarded
    // untouched.
    std::vector<grpc::Slice> slices;
    (void)down_msg_.Dump(&slices);
    for (const grpc::Slice& slice : slices) {
      const size_t take =
          std::min(slice.size(), routing::kModelNamePrefixBytes - first_bytes_.size());
      first_bytes_.append(reinterpret_cast<const char*>(slice.begin()), take);
      if (first_bytes_.size() == routing::kModelNamePrefixBytes) break;
    }
    absl::StatusOr<absl::string_view> model = routing::ReadModelName(
        first_bytes_, /*complete=*/down_msg_.Length() == first_bytes_.size());
    if (!model.ok()) {
      return FinishDownstream(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("rollout-proxy: ", model.status().message())));
    }
    attrs_.model = *model;
  } else {
    attrs_.model = absl::string_view();  // the client sent no message at all
  }
  down_read_ok_ = ok;
  RouteAndStart(/*first_message_read=*/true);
}

void ProxyCall::RouteAndStart(bool first_message_read) {
  // Cancelled while its first message was awaited: no backend needs to hear of it.
  if (client_gone_) return FinishDownstream(grpc::Status::CANCELLED);
  start_ns_ = metrics::MonotonicNowNs();
  bool needs_model = false;
  absl::Status routed = worker_->Route(attrs_, start_ns_, &target_, &needs_model);
  if (routed.ok() && needs_model) {  // the route depends on the model: read it first
    down_.Read(&down_msg_, Begin(kFirstRead));
    return;
  }
  if (!routed.ok()) {
    // A pool with no usable endpoint counts against the pool; other refusals happen before
    // a pool is chosen and are not recorded.
    if (target_.endpoint == nullptr && target_.stats != nullptr) {
      target_.stats->OnStart();
    } else {
      target_.stats = nullptr;
    }
    FinishDownstream(
        grpc::Status(static_cast<grpc::StatusCode>(routed.code()), std::string(routed.message())));
    return;
  }
  StartUpstream(first_message_read);
}

void ProxyCall::StartAttempt() {
  ++target_.endpoint->outstanding;
  up_.reset();  // the previous attempt's, whose operations have all completed
  up_ctx_.emplace();
  CopyRequestContext(down_ctx_, &*up_ctx_);
  up_ctx_->set_deadline(down_ctx_.raw_deadline());
  up_started_ = up_finishing_ = false;
  up_start_done_ = up_start_ok_ = up_finish_done_ = false;
  up_ = target_.endpoint->stub->PrepareCall(&*up_ctx_, down_ctx_.method(), worker_->cq());
  up_->StartCall(Begin(kUpStart));
  up_->ReadInitialMetadata(Begin(kUpHeaders));
}

void ProxyCall::StartUpstream(bool first_message_read) {
  target_.stats->OnStart();
  if (!pool_slot_.Acquire(target_.pool->limit)) {
    return FinishDownstream(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("rollout-proxy: pool \"", *target_.pool->name, "\" is at its limit of ",
                     target_.pool->limit->max(), " concurrent calls (max_concurrent_calls)")));
  }
  down_ctx_.AddInitialMetadata(kPoolHeader, *target_.pool->name);
  if (target_.mirror_endpoint != nullptr) {
    mirror_ = MirrorCall::Start(worker_, down_ctx_, target_.mirror_endpoint, target_.mirror_stats,
                                target_.mirror_tolerance);
  }
  StartAttempt();
  if (first_message_read) {
    forward_waiting_ = true;  // sent (or half-closed) once StartCall completes
  } else {
    down_.Read(&down_msg_, Begin(kDownRead));
  }
}

void ProxyCall::OnDone() {
  // The client went away (cancel, deadline, reset): stop the backend's work too.
  client_gone_ = down_ctx_.IsCancelled();
  if (client_gone_ && up_ != nullptr) up_ctx_->TryCancel();
}

void ProxyCall::OnUpHeaders(bool ok) {
  if (!ok) return FinishUpstream();  // failed before the backend answered; get its status
  for (const auto& [key, value] : up_ctx_->GetServerInitialMetadata()) {
    if (!IsHopByHopKey(ToView(key))) down_ctx_.AddInitialMetadata(ToString(key), ToString(value));
  }
  down_.SendInitialMetadata(Begin(kDownHeaders));
}

void ProxyCall::OnDownHeaders() {
  // Even if the client is gone, keep reading upstream: the read fails once the done-tag
  // has cancelled the upstream call, and that path collects the status.
  up_->Read(&up_msg_, Begin(kUpRead));
}

void ProxyCall::OnUpStart(bool ok) {
  up_start_done_ = true;
  up_start_ok_ = ok;
  if (ok) {
    up_started_ = true;
    if (forward_waiting_ && !up_finishing_) {
      forward_waiting_ = false;
      ForwardToUpstream();
    }
  }
  // A failed start keeps a waiting client message for a retry; headers fail too, and the
  // Finish they lead to decides.
  if (up_finish_done_) AfterUpstream();
}

void ProxyCall::OnDownRead(bool ok) {
  down_read_ok_ = ok;
  if (up_finishing_) {  // kept, in case the attempt is retried; otherwise it goes unsent
    forward_waiting_ = true;
    return;
  }
  if (up_started_) {
    ForwardToUpstream();
  } else {
    forward_waiting_ = true;
  }
}

void ProxyCall::ForwardToUpstream() {
  if (down_read_ok_) {
    if (mirror_ != nullptr) mirror_->Send(down_msg_);
    up_->Write(down_msg_, Begin(kUpWrite));
  } else {
    if (mirror_ != nullptr) mirror_->CloseSend();
    up_->WritesDone(Begin(kUpWritesDone));  // the client half-closed (or left)
  }
}

void ProxyCall::OnUpWrite(bool ok) {
  // A failed write means the upstream call is over; its read side collects the status.
  if (ok && !down_finishing_) down_.Read(&down_msg_, Begin(kDownRead));
}

void ProxyCall::OnUpRead(bool ok) {
  if (ok) {
    if (mirror_ != nullptr) mirror_->PrimaryAnswer(up_msg_);
    down_.Write(up_msg_, Begin(kDownWrite));
  } else {
    FinishUpstream();
  }
}

void ProxyCall::OnDownWrite(bool ok) {
  if (ok) {
    up_->Read(&up_msg_, Begin(kUpRead));
  } else {
    up_ctx_->TryCancel();  // the client cannot take more; release the backend
    FinishUpstream();
  }
}

void ProxyCall::FinishUpstream() {
  up_finishing_ = true;
  up_->Finish(&up_status_, Begin(kUpFinish));
}

void ProxyCall::OnUpFinish() {
  up_finish_done_ = true;
  if (up_start_done_) AfterUpstream();
}

bool ProxyCall::Retry() {
  UpstreamSet::Endpoint* next =
      worker_->PickAnother(target_.pool, target_.endpoint, metrics::MonotonicNowNs());
  if (next == nullptr) return false;
  --target_.endpoint->outstanding;
  target_.endpoint->state->RecordCall(/*unavailable=*/true, target_.pool->outlier,
                                      target_.pool->states);
  ++retries_;
  target_.stats->OnRetry();
  target_.endpoint = next;
  StartAttempt();
  return true;
}

void ProxyCall::AfterUpstream() {
  // Never reached the backend (StartCall failed), so it is safe to try another endpoint.
  if (!up_start_ok_ && up_status_.error_code() == grpc::StatusCode::UNAVAILABLE && !client_gone_ &&
      !down_finishing_ && retries_ < kMaxRetries && Retry()) {
    return;
  }
  --target_.endpoint->outstanding;
  target_.endpoint->state->RecordCall(up_status_.error_code() == grpc::StatusCode::UNAVAILABLE,
                                      target_.pool->outlier, target_.pool->states);
  for (const auto& [key, value] : up_ctx_->GetServerTrailingMetadata()) {
    const absl::string_view k = ToView(key);
    if (!IsHopByHopKey(k) && !IsStatusTrailerKey(k)) {
      down_ctx_.AddTrailingMetadata(ToString(key), ToString(value));
    }
  }
  if (up_status_.error_code() == grpc::StatusCode::UNAVAILABLE &&
      target_.endpoint->channel->GetState(false) != GRPC_CHANNEL_READY) {
    // The proxy could not reach the backend: say which pool and endpoint.
    return FinishDownstream(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("rollout-proxy: pool \"", *target_.pool->name, "\" endpoint ",
                     target_.endpoint->address, " is unavailable",
                     retries_ > 0 ? absl::StrCat(" (the last of ", retries_ + 1, " tried)") : "",
                     ": ", up_status_.error_message()),
        up_status_.error_details()));
  }
  FinishDownstream(up_status_);
}

void ProxyCall::FinishDownstream(const grpc::Status& status) {
  // The mirror takes over once the client has the status (kDownFinish), so its work never
  // sits between the primary's answer and the client.
  if (mirror_ != nullptr) primary_status_ = status;
  if (target_.stats != nullptr) {  // null when the call was never routed
    const int64_t now = metrics::MonotonicNowNs();
    target_.stats->OnEnd(status.error_code(), static_cast<uint64_t>(now - start_ns_), now);
  }
  down_finishing_ = true;
  down_.Finish(status, Begin(kDownFinish));
}

}  // namespace rollout::proxy
