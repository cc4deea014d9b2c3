#include "serve/rollout_loop.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"

namespace rollout::serve {

std::unique_ptr<control::LeaderLock> RolloutLoop::LockFor(const control::Config& config,
                                                          bool* writer) {
  *writer = true;
  if (!config.shared_state) return nullptr;
  mkdir(config.state_dir.c_str(), 0750);
  auto lock = std::make_unique<control::LeaderLock>(config.state_dir, ReplicaName(config));
  *writer = lock->TryAcquire();
  log::Info(
      absl::StrCat("shared state_dir: ", *writer ? "this replica leads" : "following the leader"));
  return lock;
}

std::string RolloutLoop::ReplicaName(const control::Config& config) {
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat("pid ", getpid(), " on ", host,
                      config.admin.has_value() ? ", admin " + config.admin->listen : "");
}

RolloutLoop::RolloutLoop(control::Controller* controller, control::RolloutEngine* engine,
                         control::LeaderLock* lock)
    : controller_(controller), engine_(engine), lock_(lock) {
  thread_ = std::thread([this] {
    for (int beat = 0; !stopping_.load(); ++beat) {
      if (lock_ != nullptr && !lock_->held()) Follow(beat);
      engine_->Tick();  // does nothing on a follower
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
}

RolloutLoop::~RolloutLoop() {
  stopping_ = true;
  thread_.join();
}

void RolloutLoop::Follow(int beat) {
  if (controller_->Sync()) engine_->Refresh();
  if (lock_->TryAcquire()) {
    controller_->Sync();
    controller_->SetWriter(true, "");
    if (absl::Status s = engine_->TakeOver(); !s.ok()) {
      log::Error(absl::StrCat("taking over: ", s.message()));
    }
    log::Info("shared state_dir: this replica leads now");
  } else if (beat % 20 == 0) {
    controller_->SetWriter(false, lock_->Holder());  // the holder may have changed
  }
}

}  // namespace rollout::serve
