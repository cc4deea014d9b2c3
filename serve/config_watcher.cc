#include "serve/config_watcher.h"

#include <fstream>
#include <sstream>

#include "absl/time/clock.h"

namespace rollout::serve {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ConfigWatcher::ConfigWatcher(std::string path, absl::Duration period,
                             std::function<void()> changed) {
  thread_ = std::thread([this, path = std::move(path), period, changed = std::move(changed)] {
    std::string last = ReadWholeFile(path);
    // Short naps, so that the destructor does not wait a whole period.
    const absl::Duration nap = std::min(period, absl::Milliseconds(50));
    absl::Time next = absl::Now() + period;
    while (!stopping_.load()) {
      absl::SleepFor(nap);
      if (absl::Now() < next) continue;
      next = absl::Now() + period;
      std::string now = ReadWholeFile(path);
      if (now.empty() || now == last) continue;
      last = std::move(now);
      changed();
    }
  });
}

ConfigWatcher::~ConfigWatcher() {
  stopping_ = true;
  thread_.join();
}

}  // namespace rollout::serve
