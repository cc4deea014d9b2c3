#include "serve/rollout_loop.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rollout::serve {

std::string RolloutLoop::ReplicaName(const control::Config& config) {
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat("pid ", getpid(), " on ", host,
                      config.admin.has_value() ? ", admin " + config.admin->listen : "");
}

RolloutLoop::RolloutLoop(control::RolloutEngine* engine) : engine_(engine) {
  thread_ = std::thread([this] {
    while (!stopping_.load()) {
      engine_->Tick();  // does nothing on a replica that does not lead
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
}

RolloutLoop::~RolloutLoop() {
  stopping_ = true;
  thread_.join();
}

}  // namespace rollout::serve
