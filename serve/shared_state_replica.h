// SharedStateReplica: this replica's part among those sharing an etcd store
// (state_store.etcd). It follows the store's commits (the controller's watch, which
// publishes each new table), and runs for the rollout engine's leadership: elected, it
// hands the controller its fence and takes the rollouts over from the committed step;
// deposed, the engine stops deciding. It also publishes this replica's traffic windows,
// which the leader sums with the others' (replica_windows.h).
//
//   SharedStateReplica replica(controller, engine, etcd_store, config);  // until destroyed
//
// Thread-safety: the election's thread drives it; the destructor resigns, then stops the
// watch, so no callback runs once it returns.
#ifndef ROLLOUT_SERVE_SHARED_STATE_REPLICA_H_
#define ROLLOUT_SERVE_SHARED_STATE_REPLICA_H_

#include <prometheus/metric_family.h>

#include <memory>
#include <mutex>
#include <vector>

#include "config/config.h"
#include "control/controller.h"
#include "rollout/replica_windows.h"
#include "rollout/rollout_engine.h"
#include "state/etcd_election.h"
#include "state/etcd_store.h"

namespace rollout::serve {

class SharedStateReplica final {
 public:
  // `calls`: this replica's traffic, published for the leader's analysis.
  SharedStateReplica(control::Controller* controller, control::RolloutEngine* engine,
                     control::EtcdStore* store, const control::Config& config,
                     const metrics::CallMetrics* calls);
  ~SharedStateReplica();
  SharedStateReplica(const SharedStateReplica&) = delete;
  SharedStateReplica& operator=(const SharedStateReplica&) = delete;

  // Stops running for leadership, resigning if it leads (a drain: another replica takes
  // over at once); the watch goes on.
  void Resign();

  // rollout_proxy_state_store_connected, _state_store_revision and
  // rollout_proxy_rollout_leader, for /metrics.
  std::vector<prometheus::MetricFamily> Families() const;

 private:
  void Elected(const control::Fence& fence);
  void Deposed(const std::string& why);

  control::Controller* const controller_;
  control::RolloutEngine* const engine_;
  control::EtcdStore* const store_;
  const std::string name_;
  mutable std::mutex mu_;
  std::unique_ptr<control::WindowPublisher> windows_;
  std::unique_ptr<control::EtcdElection> election_;  // guarded by mu_ (the pointer)
};

}  // namespace rollout::serve

#endif  // ROLLOUT_SERVE_SHARED_STATE_REPLICA_H_
