#include "proxy/h2/h2_mirror.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "proxy/h2/upstream_connection.h"
#include "proxy/mirror_comparator.h"
#include "proxy/model_fields.h"

namespace rollout::proxy::h2 {
namespace {

constexpr int kCancelled = static_cast<int>(absl::StatusCode::kCancelled);

}  // namespace

H2Mirror::H2Mirror(CallContext* context, const CallRouter::Target& target, int64_t deadline_ns)
    : context_(context),
      endpoint_(target.mirror_endpoint),
      stats_(target.mirror_stats),
      tolerance_(target.mirror_tolerance),
      started_ns_(metrics::MonotonicNowNs()) {
  const int64_t cap = started_ns_ + kMaxDuration;
  deadline_ns_ = deadline_ns == 0 ? cap : std::min(deadline_ns, cap);
}

H2Mirror::~H2Mirror() = default;

H2Mirror* H2Mirror::Start(CallContext* context, const CallRouter::Target& target,
                          const HeaderBlock& request_headers, int64_t deadline_ns) {
  auto* link = static_cast<H2Upstream*>(target.mirror_endpoint->link.get());
  std::string why;
  UpstreamConnection* conn = link->Acquire(context->now_ns(), &why);
  if (conn == nullptr) {
    target.mirror_stats->OnMirror(metrics::MirrorResult::kError, 0, context->now_ns());
    return nullptr;
  }
  auto* m = new H2Mirror(context, target, deadline_ns);
  m->method_ = std::string(request_headers.Get(":path").value_or(""));
  if (!target.mirror_pool->model_fields.empty() && NamesModel(m->method_)) {
    m->rewriter_ = std::make_unique<ModelRewriter>(target.mirror_pool->model_fields);
  }
  std::vector<nghttp2_nv> nva;
  nva.reserve(request_headers.size() + 1);
  request_headers.AppendTo(&nva);
  nva.push_back(MakeNv("x-rollout-mirror", "1"));  // backends can tell shadow traffic apart
  nghttp2_data_provider body;
  body.source.ptr = static_cast<UpstreamStream*>(m);
  body.read_callback = &H2Mirror::ReadRequest;
  const int32_t id = conn->Submit(m, nva.data(), nva.size(), &body);
  if (id < 0) {
    target.mirror_stats->OnMirror(metrics::MirrorResult::kError, 0, context->now_ns());
    delete m;
    return nullptr;
  }
  m->up_ = conn;
  m->stream_ = id;
  m->open_ = true;
  m->request_.SetSink(conn, id);
  ++m->endpoint_->outstanding;
  context->MirrorStarted(m);
  return m;
}

void H2Mirror::OnClientData(const uint8_t* data, size_t size) {
  if (dropped_ || !open_) return;
  std::string error;
  if (!PushRequestBytes(rewriter_.get(), data, size, &request_, &error)) {
    return Drop();  // a message its pool cannot take: nothing to compare
  }
  Account();
}

void H2Mirror::OnClientEnd() {
  if (dropped_ || !open_) return;
  request_.End();
  if (up_ != nullptr) up_->MarkDirty();
}

void H2Mirror::OnPrimaryData(const uint8_t* data, size_t size) {
  if (dropped_) return;
  primary_.Append(data, size);
  Account();
}

void H2Mirror::PrimaryFinished(int code) {
  primary_code_ = code;
  if (code == kCancelled) Drop();  // the client left: nothing to compare
  MaybeConclude();
  MaybeDelete();
}

void H2Mirror::Expire() {
  if (!open_ || shadow_failed_) return;
  shadow_failed_ = true;  // it did not answer in time
  ResetStream();
}

void H2Mirror::OnResponseHeader(absl::string_view name, absl::string_view value, bool) {
  if (name == "grpc-status" && !absl::SimpleAtoi(value, &shadow_status_)) shadow_status_ = -1;
}

void H2Mirror::OnResponseData(const uint8_t* data, size_t size) {
  nghttp2_session_consume(up_->session(), stream_, size);  // never holds the shadow back
  up_->MarkDirty();
  if (dropped_) return;
  shadow_.Append(data, size);
  Account();
}

void H2Mirror::OnUpstreamClosed(uint32_t error_code) {
  StreamOver(/*failed=*/error_code != NGHTTP2_NO_ERROR || shadow_status_ != 0);
}

void H2Mirror::OnUpstreamLost(bool, absl::string_view) {
  up_ = nullptr;
  StreamOver(/*failed=*/true);
}

void H2Mirror::StreamOver(bool failed) {
  open_ = false;
  shadow_done_ = true;
  shadow_failed_ = shadow_failed_ || failed;
  finished_ns_ = metrics::MonotonicNowNs();
  --endpoint_->outstanding;
  request_.DetachSink();
  request_.Discard();
  Account();
  MaybeConclude();
  MaybeDelete();
}

void H2Mirror::Account(bool may_drop) {
  const size_t held = request_.queued() + primary_.held_bytes() + shadow_.held_bytes();
  context_->mirror_bytes() += held;
  context_->mirror_bytes() -= accounted_;
  accounted_ = held;
  if (may_drop && !dropped_ &&
      (held > kMaxBytes || context_->mirror_bytes() > CallContext::kMaxMirrorBytes)) {
    Drop();
  }
}

void H2Mirror::Drop() {
  if (dropped_) return;
  dropped_ = true;
  request_.Discard();
  primary_.Clear();
  shadow_.Clear();
  Account();
  ResetStream();
}

void H2Mirror::ResetStream() {
  if (!open_ || up_ == nullptr || up_->closed()) return;
  nghttp2_submit_rst_stream(up_->session(), NGHTTP2_FLAG_NONE, stream_, NGHTTP2_CANCEL);
  up_->MarkDirty();
}

void H2Mirror::MaybeConclude() {
  if (concluded_ || primary_code_ < 0 || (!shadow_done_ && !dropped_)) return;
  concluded_ = true;
  const int64_t now = metrics::MonotonicNowNs();
  if (dropped_) return stats_->OnMirror(metrics::MirrorResult::kDropped, 0, now);
  if (primary_code_ != 0) return;  // nothing to compare a failed primary with
  const uint64_t took = static_cast<uint64_t>(std::max<int64_t>(1, finished_ns_ - started_ns_));
  if (shadow_failed_) return stats_->OnMirror(metrics::MirrorResult::kError, 0, now, took);
  const MirrorVerdict v =
      CompareAnswers(method_, primary_.messages(), shadow_.messages(), tolerance_);
  stats_->OnMirror(v.match ? metrics::MirrorResult::kMatch : metrics::MirrorResult::kMismatch,
                   v.max_difference, now, took);
  if (v.top1_agree + v.top1_disagree > 0) stats_->OnMirrorTop1(v.top1_agree, v.top1_disagree);
}

void H2Mirror::MaybeDelete() {
  if (open_ || primary_code_ < 0) return;
  primary_.Clear();
  shadow_.Clear();
  Account();
  context_->MirrorEnded(this);
  delete this;
}

ssize_t H2Mirror::ReadRequest(nghttp2_session*, int32_t, uint8_t*, size_t length,
                              uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* m = static_cast<H2Mirror*>(static_cast<UpstreamStream*>(source->ptr));
  m->Account(/*may_drop=*/false);  // what the last frames took out (no reset from in here)
  return m->request_.Read(length, data_flags);
}

}  // namespace rollout::proxy::h2
