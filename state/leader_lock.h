// LeaderLock: which of several replicas sharing one state_dir is the single writer.
//
// The leader holds an exclusive flock on state_dir/leader.lock and writes who it is there
// (its pid and admin address). The kernel drops the lock when the process dies, kill -9
// included, so a follower that keeps trying takes over within one try period. Needs a
// filesystem with working flock (local disks; NFSv4 and most RWX volumes).
//
//   LeaderLock lock("/var/lib/rollout-proxy", "pid 42, admin 10.0.0.7:8501");
//   if (lock.TryAcquire()) { ... lead ... } else { std::string who = lock.Holder(); }
//
// Thread-safety: not thread-safe; one thread drives it.
#ifndef ROLLOUT_STATE_LEADER_LOCK_H_
#define ROLLOUT_STATE_LEADER_LOCK_H_

#include <string>

#include "absl/status/status.h"

namespace rollout::control {

class LeaderLock final {
 public:
  LeaderLock(std::string dir, std::string me);
  ~LeaderLock();
  LeaderLock(const LeaderLock&) = delete;
  LeaderLock& operator=(const LeaderLock&) = delete;

  // True once this process holds the lock (and from then on).
  bool TryAcquire();
  bool held() const { return held_; }
  // What the current holder wrote about itself ("" if unknown).
  std::string Holder() const;

 private:
  const std::string path_;
  const std::string me_;
  int fd_ = -1;
  bool held_ = false;
};

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_LEADER_LOCK_H_
