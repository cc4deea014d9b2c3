// RolloutLoop: the thread that runs the rollout engine: every 100 ms it ticks the engine,
// which runs its due analyses (on the replica that leads; see SharedStateReplica).
//
//   RolloutLoop loop(engine);   // runs until destroyed
//
// Thread-safety: the destructor stops and joins the thread.
#ifndef ROLLOUT_SERVE_ROLLOUT_LOOP_H_
#define ROLLOUT_SERVE_ROLLOUT_LOOP_H_

#include <atomic>
#include <string>
#include <thread>

#include "config/config.h"
#include "rollout/rollout_engine.h"

namespace rollout::serve {

class RolloutLoop final {
 public:
  explicit RolloutLoop(control::RolloutEngine* engine);
  ~RolloutLoop();
  RolloutLoop(const RolloutLoop&) = delete;
  RolloutLoop& operator=(const RolloutLoop&) = delete;

  // How this replica names itself to the others: "pid 7 on host-a, admin 0.0.0.0:8501".
  static std::string ReplicaName(const control::Config& config);

 private:
  control::RolloutEngine* const engine_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace rollout::serve

#endif  // ROLLOUT_SERVE_ROLLOUT_LOOP_H_
