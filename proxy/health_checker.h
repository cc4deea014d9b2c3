// HealthChecker: active grpc.health.v1 checks of every endpoint of pools that configure
// `health_check`, on its own thread and its own connections.
//
// Each endpoint is checked every `interval` with `timeout`: SERVING passes; any other
// answer, an error or a timeout fails. unhealthy_threshold failures in a row mark it
// unhealthy in its EndpointState (workers stop picking it); healthy_threshold passes in a
// row mark it healthy again. The pools to check are read from the current routing table
// at every round, so reloads add and drop checks.
//
// Thread-safety: Start/Stop from the owner; the rest runs on the checker's thread.
#ifndef ROLLOUT_PROXY_HEALTH_CHECKER_H_
#define ROLLOUT_PROXY_HEALTH_CHECKER_H_

#include <grpcpp/channel.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "proxy/endpoint_state.h"
#include "proxy/name_resolver.h"
#include "routing/routing_table_store.h"

namespace rollout::proxy {

class HealthChecker final {
 public:
  // With `names`, a host name's every address is checked (as UpstreamSet uses them).
  HealthChecker(const routing::RoutingTableStore* tables, EndpointRegistry* registry,
                const NameResolver* names = nullptr)
      : tables_(tables), registry_(registry), names_(names) {}
  ~HealthChecker() { Stop(); }

  void Start();
  void Stop();

 private:
  struct Target {
    std::shared_ptr<grpc::Channel> channel;
    routing::UpstreamTlsSpec tls;  // what the channel was built with
    absl::Time next_check = absl::InfinitePast();
    int passes = 0;
    int failures = 0;
  };

  void Run();
  // One grpc.health.v1.Health/Check; true if the answer is SERVING.
  static bool Check(grpc::Channel* channel, const routing::HealthCheckSpec& spec);

  const routing::RoutingTableStore* tables_;
  EndpointRegistry* registry_;
  const NameResolver* names_;
  std::map<std::string, Target> targets_;  // by pool/address; only the checker thread
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_HEALTH_CHECKER_H_
