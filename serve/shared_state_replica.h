// SharedStateReplica: this replica's part among those sharing an etcd store
// (state_store.etcd). It follows the store's commits (the controller's watch, which
// publishes each new table), and runs for the rollout engine's leadership: elected, it
// hands the controller its fence and takes the rollouts over from the committed step;
// deposed, the engine stops deciding.
//
//   SharedStateReplica replica(controller, engine, etcd_store, config);  // until destroyed
//
// Thread-safety: the election's thread drives it; the destructor resigns, then stops the
// watch, so no callback runs once it returns.
#ifndef ROLLOUT_SERVE_SHARED_STATE_REPLICA_H_
#define ROLLOUT_SERVE_SHARED_STATE_REPLICA_H_

#include <memory>

#include "config/config.h"
#include "control/controller.h"
#include "rollout/rollout_engine.h"
#include "state/etcd_election.h"
#include "state/etcd_store.h"

namespace rollout::serve {

class SharedStateReplica final {
 public:
  SharedStateReplica(control::Controller* controller, control::RolloutEngine* engine,
                     control::EtcdStore* store, const control::Config& config);
  ~SharedStateReplica();
  SharedStateReplica(const SharedStateReplica&) = delete;
  SharedStateReplica& operator=(const SharedStateReplica&) = delete;

 private:
  void Elected(const control::Fence& fence);
  void Deposed(const std::string& why);

  control::Controller* const controller_;
  control::RolloutEngine* const engine_;
  const std::string name_;
  std::unique_ptr<control::EtcdElection> election_;
};

}  // namespace rollout::serve

#endif  // ROLLOUT_SERVE_SHARED_STATE_REPLICA_H_
