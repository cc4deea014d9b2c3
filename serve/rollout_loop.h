// RolloutLoop: the thread that runs the rollout engine, and the replica's part among those
// sharing a state_dir (shared_state). Every 100 ms the leader ticks the engine (its due
// analyses). A follower instead re-reads the leader's state and records, and tries the
// leader lock: once it gets it (the leader died or stopped) it takes the rollouts over from
// where they are, and leads.
//
//   std::unique_ptr<LeaderLock> lock = RolloutLoop::LockFor(config, &writer);
//   ... Controller::Create(config, writer), RolloutEngine::Create(...) ...
//   RolloutLoop loop(controller, engine, lock.get());   // runs until destroyed
//
// Thread-safety: the loop's own thread drives the lock; the destructor stops and joins it.
#ifndef ROLLOUT_SERVE_ROLLOUT_LOOP_H_
#define ROLLOUT_SERVE_ROLLOUT_LOOP_H_

#include <atomic>
#include <memory>
#include <thread>

#include "config/config.h"
#include "control/controller.h"
#include "rollout/rollout_engine.h"
#include "state/leader_lock.h"

namespace rollout::serve {

class RolloutLoop final {
 public:
  // The leader lock of a shared state_dir (null without shared_state), tried once:
  // *writer says whether this replica leads.
  static std::unique_ptr<control::LeaderLock> LockFor(const control::Config& config, bool* writer);
  // How this replica names itself to the others: "pid 7 on host-a, admin 0.0.0.0:8501".
  static std::string ReplicaName(const control::Config& config);

  // `lock` may be null (a single replica: it always leads).
  RolloutLoop(control::Controller* controller, control::RolloutEngine* engine,
              control::LeaderLock* lock);
  ~RolloutLoop();
  RolloutLoop(const RolloutLoop&) = delete;
  RolloutLoop& operator=(const RolloutLoop&) = delete;

 private:
  // A follower's turn: follow the leader's state, or take over.
  void Follow(int beat);

  control::Controller* const controller_;
  control::RolloutEngine* const engine_;
  control::LeaderLock* const lock_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace rollout::serve

#endif  // ROLLOUT_SERVE_ROLLOUT_LOOP_H_
