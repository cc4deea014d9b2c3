#include "proxy/h2/h2_call.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "metrics/call_series.h"
#include "proxy/h2/connection.h"
#include "proxy/h2/first_message_model.h"
#include "proxy/h2/h2_mirror.h"
#include "proxy/h2/upstream_connection.h"
#include "proxy/model_fields.h"

namespace rollout::proxy::h2 {
namespace {

constexpr absl::string_view kPoolHeader = "x-rollout-pool";
constexpr absl::string_view kHealthCheck = "/grpc.health.v1.Health/Check";
constexpr absl::string_view kHealthWatch = "/grpc.health.v1.Health/Watch";

// HealthCheckResponse{status: SERVING (1) or NOT_SERVING (2)}, length-prefixed.
void PushHealth(Pipe* pipe, bool serving) {
  const uint8_t message[] = {0, 0, 0, 0, 2, 0x08, static_cast<uint8_t>(serving ? 1 : 2)};
  pipe->Push(message, sizeof(message));
}
constexpr int kCancelled = 1, kUnknown = 2, kDeadlineExceeded = 4, kResourceExhausted = 8,
              kUnimplemented = 12, kInternal = 13, kUnavailable = 14;

// Scratch space for building header lists; nghttp2 copies the array on submit.
std::vector<nghttp2_nv>& ScratchNva() {
  thread_local std::vector<nghttp2_nv> nva;
  nva.clear();
  return nva;
}

}  // namespace

H2Call::H2Call(CallContext* context, CallCarrier* carrier, int32_t stream_id)
    : context_(context),
      carrier_(carrier),
      down_(carrier->connection()),
      down_stream_(stream_id),
      request_guard_(context->max_message_bytes()),
      response_guard_(context->max_message_bytes()),
      flow_(&context->router(), &context->listener_limit()) {
  request_.SetSource(down_, stream_id);
  response_.SetSink(down_, stream_id);
}

H2Call::~H2Call() = default;

void H2Call::OnRequestHeader(absl::string_view name, absl::string_view value) {
  request_headers_.Add(name, value);
}

void H2Call::OnRequestHeadersDone(bool end_stream) {
  started_ns_ = context_->now_ns();
  if (end_stream) request_.End();
  const std::optional<absl::string_view> path = request_headers_.Get(":path");
  if (!path.has_value()) return Fail(kUnimplemented, "rollout-proxy: a request without :path");
  if (*path == kHealthCheck || *path == kHealthWatch) return AnswerHealth(*path == kHealthWatch);
  if (const std::optional<absl::string_view> timeout = request_headers_.Get("grpc-timeout")) {
    if (const std::optional<int64_t> ns = ParseGrpcTimeoutNs(*timeout)) {
      const int64_t now = context_->now_ns();
      deadline_ns_ =
          *ns >= std::numeric_limits<int64_t>::max() - now ? 0 : now + std::max<int64_t>(*ns, 1);
      if (deadline_ns_ != 0) context_->deadlines().Add(this);
    }
  }
  attrs_.method = *path;
  attrs_.metadata = &metadata_view_;
  Route(/*first=*/true);
}

void H2Call::Route(bool first) {
  const int64_t now = metrics::MonotonicNowNs();
  const CallFlow::Verdict v = first ? flow_.Start(attrs_, context_->mirror_budget(), now)
                                    : flow_.Route(attrs_, context_->mirror_budget(), now);
  if (v.kind == CallFlow::Verdict::kNeedModel) {  // the route depends on the model: read it
    TryReadModel();
    return;
  }
  if (v.kind == CallFlow::Verdict::kFail) return Fail(v.code, v.message);
  if (RequestSampler* sampler = context_->sampler()) StartSample(sampler);
  // The shadow takes the client's bytes as they came; its pool rewrites them its own way.
  if (flow_.target().mirror_endpoint != nullptr) StartMirror();
  if (!flow_.target().pool->model_fields.empty() && NamesModel(attrs_.method)) {
    StartRewrite();
    if (reply_ == Reply::kEnded) return;
  }
  SendOrRetry();
}

void H2Call::StartRewrite() {
  rewriter_ = std::make_unique<ModelRewriter>(flow_.target().pool->model_fields);
  const std::string queued = request_.TakeUnsent();  // read before routing, not sent yet
  PushRequest(reinterpret_cast<const uint8_t*>(queued.data()), queued.size());
}

void H2Call::StartSample(RequestSampler* sampler) {
  sample_ = sampler->Begin(*flow_.target().route, attrs_.method);
  if (sample_ == nullptr) return;
  sample_->Append(request_.data(), request_.queued());  // what came before routing
  if (request_.ended()) {
    sample_->Keep();
    sample_.reset();
  }
}

bool H2Call::PushRequest(const uint8_t* data, size_t size) {
  std::string error;
  if (PushRequestBytes(rewriter_.get(), data, size, &request_, &error)) return true;
  Fail(kUnimplemented,
       absl::StrCat("rollout-proxy: pool ", *flow_.target().pool->name, " cannot take ", error));
  return false;
}

bool H2Call::TryReadModel() {
  absl::StatusOr<std::optional<absl::string_view>> model = ReadFirstMessageModel(
      absl::string_view(reinterpret_cast<const char*>(request_.data()), request_.queued()),
      request_.ended(), request_headers_.Get("grpc-encoding").value_or("identity"), &inflated_);
  if (!model.ok()) {
    Fail(static_cast<int>(model.status().code()), model.status().message());
    return true;
  }
  if (!model->has_value()) return false;
  attrs_.model = **model;
  Route(/*first=*/false);
  return true;
}

void H2Call::SendOrRetry() {
  std::string why;
  if (!StartAttempt(&why)) RetryOrFail(why);
}

void H2Call::StartMirror() {
  mirror_ = H2Mirror::Start(context_, flow_.target(), request_headers_, deadline_ns_);
  if (mirror_ == nullptr) return;
  mirror_->OnClientData(request_.data(), request_.queued());  // what came before routing
  if (request_.ended()) mirror_->OnClientEnd();
}

bool H2Call::StartAttempt(std::string* why) {
  auto* link = static_cast<H2Upstream*>(flow_.target().endpoint->link.get());
  UpstreamConnection* conn = link->Acquire(metrics::MonotonicNowNs(), why);
  if (conn == nullptr) return false;
  std::vector<nghttp2_nv>& nva = ScratchNva();
  request_headers_.AppendTo(&nva);
  nghttp2_data_provider body;
  body.source.ptr = static_cast<UpstreamStream*>(this);
  body.read_callback = &H2Call::ReadRequest;
  const int32_t id = conn->Submit(this, nva.data(), nva.size(), &body);
  if (id < 0) {
    *why = nghttp2_strerror(id);
    return false;
  }
  up_ = conn;
  up_stream_ = id;
  up_open_ = true;
  flow_.Sent();
  request_.SetSink(conn, id);
  response_.SetSource(conn, id);
  return true;
}

void H2Call::RetryOrFail(absl::string_view why) {
  const CallFlow::Verdict v =
      flow_.AttemptFailed(why, down_open_ && reply_ != Reply::kEnded, metrics::MonotonicNowNs());
  if (v.kind == CallFlow::Verdict::kFail) return Fail(v.code, v.message);
  SendOrRetry();
}

void H2Call::AnswerHealth(bool watch) {
  health_ = true;
  PushHealth(&response_, context_->serving());
  if (watch) {
    context_->health_watches().insert(this);  // further answers as the status changes
  } else {
    response_.End();
    trailers_.Add("grpc-status", "0");
  }
  response_headers_.Add(":status", "200");
  response_headers_.Add("content-type", "application/grpc");
  SendResponseHeaders();
}

void H2Call::OnHealthChanged(bool serving) {
  if (down_ == nullptr || reply_ == Reply::kEnded) return;
  PushHealth(&response_, serving);
  down_->MarkDirty();
}

void H2Call::EndHealthWatch() {
  if (down_ == nullptr || reply_ == Reply::kEnded || response_.ended()) return;
  trailers_.Add("grpc-status", "0");
  response_.End();
  down_->MarkDirty();
}

void H2Call::OnRequestData(const uint8_t* data, size_t size) {
  if (closing() || health_) {  // nobody will read it: give the window back
    sample_.reset();           // nor replay it: it is not whole
    nghttp2_session_consume(down_->session(), down_stream_, size);
    down_->MarkDirty();
    return;
  }
  if (request_guard_.limited() && !request_guard_.Feed(data, size)) {
    nghttp2_session_consume(down_->session(), down_stream_, size);
    return Fail(kResourceExhausted,
                absl::StrCat("rollout-proxy: a request message is larger than max_message_bytes (",
                             request_guard_.max(), ")"));
  }
  if (mirror_ != nullptr) mirror_->OnClientData(data, size);
  if (sample_ != nullptr) sample_->Append(data, size);
  if (!PushRequest(data, size)) return;
  if (flow_.phase() == CallFlow::Phase::kNeedsModel) TryReadModel();
}

void H2Call::OnRequestEnd() {
  request_.End();
  if (mirror_ != nullptr) mirror_->OnClientEnd();
  if (sample_ != nullptr && !closing()) sample_->Keep();
  sample_.reset();
  if (flow_.phase() == CallFlow::Phase::kNeedsModel) TryReadModel();
}

void H2Call::OnDownstreamClosed(uint32_t /*error_code*/) {
  down_open_ = false;
  // Closed before the client had our end: it cancelled (RST_STREAM) or went away.
  if (reply_ != Reply::kEnded) {
    reply_ = Reply::kEnded;
    RecordEnd(kCancelled);
  }
  response_.DetachSink();
  response_.Discard();
  request_.Discard();
  ResetUpstream();
  MaybeDelete();
}

void H2Call::OnDownstreamLost() {
  down_ = nullptr;
  down_open_ = false;
  if (reply_ != Reply::kEnded) {
    reply_ = Reply::kEnded;
    RecordEnd(kCancelled);
  }
  request_.DetachSource();
  request_.Discard();
  response_.DetachSink();
  response_.Discard();
  ResetUpstream();
  MaybeDelete();
}

void H2Call::OnResponseHeader(absl::string_view name, absl::string_view value, bool trailer) {
  (trailer ? trailers_ : response_headers_).Add(name, value);
}

void H2Call::OnResponseHeadersDone(bool end_stream) {
  if (closing()) return;
  if (end_stream) {
    // Trailers-only: passed on as headers and then trailers, so that the client finds
    // x-rollout-pool in the initial metadata, as on the gRPC data plane.
    HeaderBlock head;
    response_headers_.ForEach([&](absl::string_view name, absl::string_view value) {
      (name == ":status" || name == "content-type" ? head : trailers_).Add(name, value);
    });
    response_headers_ = std::move(head);
    response_.End();
  }
  SendResponseHeaders();
}

void H2Call::SendResponseHeaders() {
  std::vector<nghttp2_nv>& nva = ScratchNva();
  response_headers_.AppendTo(&nva);
  if (flow_.attempted()) nva.push_back(MakeNv(kPoolHeader, *flow_.target().pool->name));
  nghttp2_data_provider body;
  body.source.ptr = this;
  body.read_callback = &H2Call::ReadResponse;
  nghttp2_submit_response(down_->session(), down_stream_, nva.data(), nva.size(), &body);
  if (reply_ == Reply::kWaiting) reply_ = Reply::kStreaming;
  down_->MarkDirty();
}

void H2Call::OnResponseData(const uint8_t* data, size_t size) {
  if (closing()) {
    nghttp2_session_consume(up_->session(), up_stream_, size);
    up_->MarkDirty();
    return;
  }
  if (response_guard_.limited() && !response_guard_.Feed(data, size)) {
    nghttp2_session_consume(up_->session(), up_stream_, size);
    up_->MarkDirty();
    return Fail(kResourceExhausted, absl::StrCat("rollout-proxy: a response message is larger than "
                                                 "max_message_bytes (",
                                                 response_guard_.max(), ")"));
  }
  if (const size_t starts = response_starts_.Feed(data, size)) CountMessages(starts);
  response_.Push(data, size);
  if (mirror_ != nullptr) mirror_->OnPrimaryData(data, size);
}

void H2Call::CountMessages(size_t starts) {
  metrics::CallSeries::Cell* cell = flow_.target().stats;
  const int64_t now = context_->now_ns();
  for (size_t i = 0; i < starts; ++i) {
    if (!first_message_seen_) {
      first_message_seen_ = true;
      cell->OnFirstMessage(static_cast<uint64_t>(std::max<int64_t>(now - started_ns_, 0)), now);
    } else {  // messages that came in one read arrived together
      cell->OnMessageGap(
          i == 0 ? static_cast<uint64_t>(std::max<int64_t>(now - last_message_ns_, 0)) : 0, now);
    }
  }
  last_message_ns_ = now;
  cell->OnMessages(starts);
}

void H2Call::OnResponseEnd() {
  if (closing()) return;
  response_.End();  // the trailers follow the data once it has all gone out
}

void H2Call::OnResponseDrained(uint32_t* data_flags) {
  *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
  std::vector<nghttp2_nv>& nva = ScratchNva();
  int code;
  if (reply_ == Reply::kFinishing) {
    code = status_for_local_;
  } else if (!trailers_.empty()) {
    trailers_.AppendTo(&nva);
    const std::optional<absl::string_view> status = trailers_.Get("grpc-status");
    code = status.has_value() ? ParseGrpcStatus(*status).value_or(kUnknown) : kUnknown;
  } else {
    code = kInternal;
    local_code_ = std::to_string(code);
    local_message_ = "rollout-proxy: the backend ended its response without a grpc-status";
  }
  if (nva.empty()) {
    nva.push_back(MakeNv("grpc-status", local_code_));
    nva.push_back(MakeNv("grpc-message", local_message_));
  }
  nghttp2_submit_trailer(down_->session(), down_stream_, nva.data(), nva.size());
  reply_ = Reply::kEnded;
  RecordEnd(code);
}

void H2Call::OnUpstreamClosed(uint32_t error_code) {
  up_open_ = false;
  request_.DetachSink();
  // What is still queued of the response goes out later; its window is returned now, as
  // the stream's record is gone from that connection's list of this call.
  response_.ReleaseAndDetachSource();
  if (closing()) return MaybeDelete();
  if (reply_ == Reply::kWaiting && error_code == NGHTTP2_REFUSED_STREAM && request_.taken() == 0) {
    // Refused before the backend processed anything (its GOAWAY): safe to try again.
    RetryOrFail("the backend refused the stream (it is shutting down)");
    return MaybeDelete();
  }
  request_.Discard();
  if (!response_.ended()) {  // reset by the backend before its trailers
    Fail(StatusForResetCode(error_code),
         absl::StrCat("rollout-proxy: pool \"", *flow_.target().pool->name, "\" endpoint ",
                      flow_.target().endpoint->address, " reset the stream (",
                      nghttp2_http2_strerror(error_code), ")"));
  }
  MaybeDelete();
}

void H2Call::OnUpstreamLost(bool never_sent, absl::string_view why) {
  up_open_ = false;
  up_ = nullptr;
  request_.DetachSink();
  response_.DetachSource();
  if (closing()) return MaybeDelete();
  if (never_sent && reply_ == Reply::kWaiting && request_.taken() == 0) {
    RetryOrFail(why);
    return MaybeDelete();
  }
  request_.Discard();
  if (!response_.ended()) {
    Fail(kUnavailable,
         absl::StrCat("rollout-proxy: pool \"", *flow_.target().pool->name, "\" endpoint ",
                      flow_.target().endpoint->address, " is unavailable: ", why));
  }
  MaybeDelete();
}

void H2Call::Fail(int code, absl::string_view message) {
  ResetUpstream();
  request_.Discard();
  if (closing()) return;
  if (down_ == nullptr || !down_open_) {
    reply_ = Reply::kEnded;
    RecordEnd(code);
    return;
  }
  local_code_ = std::to_string(code);
  local_message_ = PercentEncode(message);
  if (reply_ == Reply::kWaiting && !flow_.attempted()) {  // trailers-only
    std::vector<nghttp2_nv>& nva = ScratchNva();
    nva.push_back(MakeNv(":status", "200"));
    nva.push_back(MakeNv("content-type", "application/grpc"));
    nva.push_back(MakeNv("grpc-status", local_code_));
    nva.push_back(MakeNv("grpc-message", local_message_));
    nghttp2_submit_response(down_->session(), down_stream_, nva.data(), nva.size(), nullptr);
    reply_ = Reply::kEnded;
    down_->MarkDirty();
    RecordEnd(code);
    return;
  }
  if (reply_ == Reply::kWaiting) {  // a pool was chosen: its name goes in the headers
    response_headers_.Add(":status", "200");
    response_headers_.Add("content-type", "application/grpc");
    SendResponseHeaders();
  }
  // The headers are out: drop the rest of the response, and end with this status.
  reply_ = Reply::kFinishing;
  status_for_local_ = code;
  response_.Discard();
  response_.End();
  down_->MarkDirty();
}

void H2Call::RecordEnd(int code) {
  if (mirror_ != nullptr) {
    mirror_->PrimaryFinished(code);
    mirror_ = nullptr;
  }
  const int64_t now_ns = metrics::MonotonicNowNs();
  flow_.End(code, now_ns);
  AccessLog::Shard* log = context_->access_log();
  if (log != nullptr && log->Sampled(code == 0)) Log(log, code, now_ns);
}

void H2Call::Log(AccessLog::Shard* log, int code, int64_t now_ns) {
  const int64_t start_ns = started_ns_ != 0 ? started_ns_ : now_ns;
  AccessLogEntry e;
  e.start_unix_ns = absl::GetCurrentTimeNanos() - (now_ns - start_ns);
  if (const metrics::CallSeries::Cell* cell = flow_.target().stats; cell != nullptr) {
    e.route = cell->series()->route();
    e.pool = cell->series()->pool();
  }
  if (flow_.attempted()) e.endpoint = flow_.target().endpoint->address;
  e.method = attrs_.method;
  e.grpc_code = code;
  e.duration_ns = now_ns - start_ns;
  e.bytes_received = request_.received();
  e.bytes_sent = response_.received();
  e.retries = flow_.retries();
  e.request_id = request_headers_.Get("x-request-id").value_or("");
  e.traceparent = request_headers_.Get("traceparent").value_or("");
  log->Append(e);
}

void H2Call::ResetUpstream() {
  if (!up_open_ || up_ == nullptr || up_->closed()) return;
  nghttp2_submit_rst_stream(up_->session(), NGHTTP2_FLAG_NONE, up_stream_, NGHTTP2_CANCEL);
  up_->MarkDirty();
}

void H2Call::OnDeadline() {
  Fail(kDeadlineExceeded, absl::StrCat("rollout-proxy: deadline exceeded (grpc-timeout ",
                                       request_headers_.Get("grpc-timeout").value_or("?"), ")"));
}

void H2Call::MaybeDelete() {
  if (down_open_ || up_open_) return;
  if (deadline_ns_ != 0) context_->deadlines().Remove(this);
  if (health_) context_->health_watches().erase(this);
  if (down_ != nullptr) carrier_->CallEnded(this);
  delete this;
}

ssize_t H2Call::ReadRequest(nghttp2_session*, int32_t, uint8_t*, size_t length,
                            uint32_t* data_flags, nghttp2_data_source* source, void*) {
  return static_cast<UpstreamStream*>(source->ptr)->request_pipe()->Read(length, data_flags);
}

ssize_t H2Call::ReadResponse(nghttp2_session*, int32_t, uint8_t*, size_t length,
                             uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* call = static_cast<H2Call*>(source->ptr);
  const ssize_t n = call->response_.Read(length, data_flags);
  if (n >= 0 && (*data_flags & NGHTTP2_DATA_FLAG_EOF) != 0) call->OnResponseDrained(data_flags);
  return n;
}

}  // namespace rollout::proxy::h2
