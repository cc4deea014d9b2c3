// ConfigKeys: every top-level key of the config file, declared once: its name, whether it
// is required, whether a reload applies it or it needs a restart, how it is read, and how
// two configs compare on it. The loader reads the file through this table, Controller's
// reload notes ("a restart applies it") and --check's listing come from it, so a new key
// cannot be read but forgotten by the reload.
//
//   for (const ConfigKey& key : ConfigKeys()) ...
//   std::vector<std::string> keys = KeysNeedingRestart(running, from_file);
//
// Thread-safety: a constant table.
#ifndef ROLLOUT_CONFIG_CONFIG_KEYS_H_
#define ROLLOUT_CONFIG_CONFIG_KEYS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "config/config.h"

namespace YAML {
class Node;
}

namespace rollout::control {

class Reader;

enum class Applies {
  kOnReload,   // SIGHUP or `rolloutctl reload` puts it in force
  kOnRestart,  // a reload notes the change; a restart applies it
  kNever,      // a retired key, refused with a message that says what to do
};

struct ConfigKey {
  const char* name;
  bool required;
  Applies applies;
  // Reads the key's node into `config`. Keys are read in table order, so a key may use
  // what the keys above it set (rollouts: the routing table that routes builds).
  absl::Status (*read)(const Reader& in, const YAML::Node& node, Config* config);
  // kOnRestart: whether `a` and `b` agree on the key.
  bool (*same)(const Config& a, const Config& b);
};

const std::vector<ConfigKey>& ConfigKeys();

// The names of the restart-only keys on which `running` and `file` differ, in table order.
std::vector<std::string> KeysNeedingRestart(const Config& running, const Config& file);

}  // namespace rollout::control

#endif  // ROLLOUT_CONFIG_CONFIG_KEYS_H_
