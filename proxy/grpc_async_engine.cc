#include "proxy/grpc_async_engine.h"

#include <grpc/grpc.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proxy/tls_credentials.h"

namespace rollout::proxy {

absl::StatusOr<std::unique_ptr<GrpcAsyncEngine>> GrpcAsyncEngine::Create(
    const EngineOptions& options, const routing::RoutingTableStore* store) {
  if (absl::Status valid = ValidateEngineOptions(options); !valid.ok()) return valid;
  std::unique_ptr<GrpcAsyncEngine> engine(new GrpcAsyncEngine());
  engine->shared_.listener_limit.set_max(options.max_concurrent_calls);

  // grpc.health.v1.Health, answered by the proxy (not forwarded): registered methods win
  // over the generic service that takes every other method.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // Without this, a second process could bind the same port and steal half the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // BDP probing grows a stream's HTTP/2 window to many MiB, and the proxy then holds that
  // much of a stream whose reader is slow (RSS swung by 20-40 MiB in the overload tests).
  // With fixed windows a stream holds about one window per direction; loopback throughput
  // did not change (1 MiB echo: 325 vs 289 calls/s, 64 KiB: 1888 vs 2049).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  const int limit =
      options.max_message_bytes < 0 ? -1 : static_cast<int>(options.max_message_bytes);
  builder.SetMaxReceiveMessageSize(limit);
  builder.SetMaxSendMessageSize(limit);
  builder.AddListeningPort(
      options.listen,
      options.tls.has_value() ? ServerCredentials(*options.tls) : grpc::InsecureServerCredentials(),
      &engine->port_);
  builder.RegisterAsyncGenericService(&engine->service_);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  for (int i = 0; i < options.workers; ++i) queues.push_back(builder.AddCompletionQueue());

  engine->server_ = builder.BuildAndStart();
  if (engine->server_ == nullptr || engine->port_ == 0) {
    for (auto& cq : queues) {  // BuildAndStart failed: the queues were never used
      cq->Shutdown();
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) {
      }
    }
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or not local?)"));
  }
  for (int i = 0; i < options.workers; ++i) {
    engine->workers_.push_back(std::make_unique<Worker>(i, std::move(queues[i]), &engine->service_,
                                                        store, options.max_message_bytes,
                                                        options.call_metrics, &engine->shared_));
  }
  for (auto& worker : engine->workers_) worker->Start(kAcceptDepth);
  engine->SetServing(true);
  engine->health_checker_ = std::make_unique<HealthChecker>(store, &engine->shared_.endpoints);
  engine->health_checker_->Start();
  return engine;
}

GrpcAsyncEngine::~GrpcAsyncEngine() { Shutdown(absl::Now()); }

void GrpcAsyncEngine::SetServing(bool serving) {
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

void GrpcAsyncEngine::Shutdown(absl::Time deadline) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  SetServing(false);
  health_checker_->Stop();
  // Blocks until every call has ended: in-flight calls run on (workers keep polling), and
  // those still open at the deadline are cancelled.
  // Shadow calls serve no client: cancel them first, so they never hold the drain.
  for (auto& worker : workers_) worker->CancelMirrors();
  server_->Shutdown(absl::ToChronoTime(deadline));
  // The server halves are over, and cancelled server calls have cancelled their upstream
  // calls; wait for those to deliver their last events before closing the queues.
  for (auto& worker : workers_) {
    while (worker->live_calls() > 0) absl::SleepFor(absl::Milliseconds(1));
  }
  for (auto& worker : workers_) worker->ShutdownQueue();
  for (auto& worker : workers_) worker->Join();
}

}  // namespace rollout::proxy

namespace rollout::proxy {

absl::flat_hash_map<std::string, bool> GrpcAsyncEngine::EndpointHealth() const {
  absl::flat_hash_map<std::string, bool> health;
  const int64_t now = metrics::MonotonicNowNs();
  for (const auto& worker : workers_) worker->upstreams().ReportHealth(&health, now);
  return health;
}

std::vector<metrics::Rejections> GrpcAsyncEngine::Rejected() const { return shared_.Rejected(); }

}  // namespace rollout::proxy
