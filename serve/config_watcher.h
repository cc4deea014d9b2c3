// ConfigWatcher: watch_config. A ConfigMap update replaces the mounted file (a symlink
// swap), so the watcher compares the file's content, not its inode or time, every
// `period`; on a change (to a non-empty content) it calls `changed`, on its own thread.
//
//   ConfigWatcher watcher(config.source, absl::Seconds(1), [&] { Reload(...); });
//
// Thread-safety: `changed` runs on the watcher's thread; the destructor stops and joins it.
#ifndef ROLLOUT_SERVE_CONFIG_WATCHER_H_
#define ROLLOUT_SERVE_CONFIG_WATCHER_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "absl/time/time.h"

namespace rollout::serve {

class ConfigWatcher final {
 public:
  ConfigWatcher(std::string path, absl::Duration period, std::function<void()> changed);
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

 private:
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// The file's whole content ("" if it cannot be read).
std::string ReadWholeFile(const std::string& path);

}  // namespace rollout::serve

#endif  // ROLLOUT_SERVE_CONFIG_WATCHER_H_
