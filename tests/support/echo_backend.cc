#include "tests/support/echo_backend.h"

#include "absl/strings/match.h"
#include "absl/time/clock.h"

namespace rollout::testing {

EchoBackend::EchoBackend(std::string name, std::shared_ptr<grpc::ServerCredentials> credentials,
                         std::string host, int port)
    : name_(std::move(name)), host_(std::move(host)) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  builder.AddListeningPort(host_ + ":" + std::to_string(port),
                           credentials != nullptr ? credentials : grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  SetServing(true);
}

void EchoBackend::SetServing(bool serving) {
  if (server_ == nullptr) return;
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

EchoBackend::~EchoBackend() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
}

std::multimap<std::string, std::string> EchoBackend::last_metadata() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_metadata_;
}

void EchoBackend::BeginCall(grpc::ServerContext* ctx) {
  ++active_;
  ++total_;
  std::multimap<std::string, std::string> md;
  for (const auto& [k, v] : ctx->client_metadata()) {
    std::string key(k.data(), k.size());
    std::string value(v.data(), v.size());
    if (absl::StartsWith(key, "x-")) ctx->AddInitialMetadata("echo-" + key, value);
    md.emplace(std::move(key), std::move(value));
  }
  std::lock_guard<std::mutex> lock(mu_);
  last_metadata_ = std::move(md);
}

grpc::Status EchoBackend::EndCall(grpc::ServerContext* ctx, grpc::Status status) {
  ctx->AddTrailingMetadata("x-backend", name_);
  if (ctx->IsCancelled()) ++cancelled_;
  --active_;
  return status;
}

bool EchoBackend::Sleep(grpc::ServerContext* ctx, int ms) {
  const absl::Time until = absl::Now() + absl::Milliseconds(ms);
  while (absl::Now() < until) {
    if (ctx->IsCancelled()) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return !ctx->IsCancelled();
}

void EchoBackend::Fill(grpc::ServerContext* ctx, const EchoRequest& request,
                       EchoResponse* response) {
  response->set_payload(request.payload());
  response->set_backend(name_);
  const grpc::string_ref authority = ctx->ExperimentalGetAuthority();
  response->set_authority(std::string(authority.data(), authority.size()));
}

namespace {
grpc::Status Failure(const EchoRequest& request) {
  return grpc::Status(static_cast<grpc::StatusCode>(request.fail_code()), request.fail_message(),
                      request.fail_details());
}
}  // namespace

grpc::Status EchoBackend::Unary(grpc::ServerContext* ctx, const EchoRequest* request,
                                EchoResponse* response) {
  BeginCall(ctx);
  if (!Sleep(ctx, request->sleep_ms() + delay_ms_)) return EndCall(ctx, grpc::Status::CANCELLED);
  if (fail_all_ != 0) {
    return EndCall(ctx, grpc::Status(static_cast<grpc::StatusCode>(fail_all_.load()), "fail_all"));
  }
  if (request->fail_code() != 0) return EndCall(ctx, Failure(*request));
  Fill(ctx, *request, response);
  return EndCall(ctx, grpc::Status::OK);
}

grpc::Status EchoBackend::ClientStream(grpc::ServerContext* ctx,
                                       grpc::ServerReader<EchoRequest>* reader,
                                       EchoResponse* response) {
  BeginCall(ctx);
  EchoRequest request;
  std::string all;
  int count = 0;
  while (reader->Read(&request)) {
    all += request.payload();
    ++count;
  }
  Fill(ctx, request, response);
  response->set_payload(all);
  response->set_index(count);
  return EndCall(ctx, grpc::Status::OK);
}

grpc::Status EchoBackend::ServerStream(grpc::ServerContext* ctx, const EchoRequest* request,
                                       grpc::ServerWriter<EchoResponse>* writer) {
  BeginCall(ctx);
  for (int i = 0; i < request->response_count(); ++i) {
    if (!Sleep(ctx, request->sleep_ms())) return EndCall(ctx, grpc::Status::CANCELLED);
    EchoResponse response;
    Fill(ctx, *request, &response);
    response.set_index(i);
    if (!writer->Write(response)) return EndCall(ctx, grpc::Status::CANCELLED);
  }
  if (request->fail_code() != 0) return EndCall(ctx, Failure(*request));
  return EndCall(ctx, grpc::Status::OK);
}

grpc::Status EchoBackend::Bidi(grpc::ServerContext* ctx,
                               grpc::ServerReaderWriter<EchoResponse, EchoRequest>* stream) {
  BeginCall(ctx);
  EchoRequest request;
  int i = 0;
  while (stream->Read(&request)) {
    if (!Sleep(ctx, request.sleep_ms())) return EndCall(ctx, grpc::Status::CANCELLED);
    EchoResponse response;
    Fill(ctx, request, &response);
    response.set_index(i++);
    if (!stream->Write(response)) return EndCall(ctx, grpc::Status::CANCELLED);
  }
  return EndCall(ctx, grpc::Status::OK);
}

}  // namespace rollout::testing
