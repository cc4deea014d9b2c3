// GrpcAsyncEngine: the data plane on gRPC C++'s async generic API.
//
// One AsyncGenericService takes every method; each worker has its own completion queue and
// thread (see Worker), with a fixed number of RequestCalls kept posted. Calls are forwarded
// by ProxyCall.
//
// Thread-safety: as Engine.
#ifndef ROLLOUT_PROXY_GRPC_ASYNC_ENGINE_H_
#define ROLLOUT_PROXY_GRPC_ASYNC_ENGINE_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/engine.h"
#include "proxy/engine_shared.h"
#include "proxy/health_checker.h"
#include "proxy/worker.h"
#include "routing/routing_table_store.h"

namespace rollout::proxy {

class GrpcAsyncEngine final : public Engine {
 public:
  // RequestCalls kept posted per worker: enough that a burst of new calls never waits for
  // the worker to post the next one.
  static constexpr int kAcceptDepth = 64;

  // Binds `options.listen` and starts the workers. `store` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<GrpcAsyncEngine>> Create(
      const EngineOptions& options, const routing::RoutingTableStore* store);
  ~GrpcAsyncEngine() override;

  int port() const override { return port_; }
  absl::flat_hash_map<std::string, bool> EndpointHealth() const override;
  std::vector<metrics::Rejections> Rejected() const override;
  const metrics::ListenerCounters& listener_counters() const override { return shared_.listener; }
  void SetServing(bool serving) override;
  void Shutdown(absl::Time deadline) override;

 private:
  GrpcAsyncEngine() = default;

  grpc::AsyncGenericService service_;
  EngineShared shared_;
  std::unique_ptr<HealthChecker> health_checker_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<Worker>> workers_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_GRPC_ASYNC_ENGINE_H_
