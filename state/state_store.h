// StateStore: the desired state that must survive a restart, in state_dir/state.json.
//
// It holds the generation and the routes whose split was set through the API (with the
// fingerprint of the file's definition they replaced, so a reload can tell whether the file
// has changed that route since). Save() writes a temporary file, fsyncs it, renames it over
// state.json and fsyncs the folder, so a crash or kill -9 at any moment leaves either the
// old state or the new one, never a mix.
//
//   StateStore store("/var/lib/rollout-proxy");
//   absl::StatusOr<std::optional<PersistedState>> state = store.Load();
//
// Thread-safety: not thread-safe; the Controller serialises its calls.
#ifndef ROLLOUT_STATE_STATE_STORE_H_
#define ROLLOUT_STATE_STATE_STORE_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "routing/routing_table.h"
#include "state/version_record.h"

namespace rollout::control {

struct RouteOverride {
  std::vector<routing::SplitSpec> split;
  std::string file_fingerprint;  // the file's definition of the route when it was set
  // Set by a rollout only (blue_green preview, shadow); unset: the file's.
  std::optional<std::string> mirror_pool;  // "" turns the mirror off
  double mirror_percent = 0;
  std::string override_header;  // when the file's route has none
};

struct PersistedState {
  uint64_t generation = 0;
  // The effective table (pools, endpoints, routes, splits) this generation stands for; a
  // restart keeps the generation when it builds the same table.
  std::string table_fingerprint;
  std::map<std::string, RouteOverride> overrides;  // by route name
  // The rollout engine's records (opaque here), and the routes a rollout holds: their
  // weights move only through the engine.
  nlohmann::json rollouts;
  std::set<std::string> held_routes;
  // The version registry, by version name (deactivated versions stay, so that a name is
  // never reused).
  std::map<std::string, VersionRecord> versions;
  // A shared store's bookkeeping: the number of the last audit entry, and the id of the
  // commit that wrote this state (so a writer whose answer was lost can tell it landed).
  uint64_t audit_seq = 0;
  std::string commit_id;
  // Not saved: the store's revision this state was read or written at (etcd's
  // mod_revision of the state key; 0 for a file, or when there is no state yet). A change
  // computed from it commits only if the store is still there.
  int64_t revision = 0;
};

// The state as JSON (state.json's format, also the etcd store's value), and back; a value
// that is not a state is DATA_LOSS naming `where`.
std::string StateToJson(const PersistedState& state);
absl::StatusOr<PersistedState> StateFromJson(const std::string& text, const std::string& where);

class StateStore final {
 public:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}

  // nullopt when there is no state yet. A file that cannot be parsed is DATA_LOSS, naming
  // the file and what is wrong with it.
  absl::StatusOr<std::optional<PersistedState>> Load() const;
  absl::Status Save(const PersistedState& state) const;
  // Moves a corrupt state.json aside (state.json.corrupt-<unix time>) and returns its new path.
  absl::StatusOr<std::string> Quarantine() const;

  std::string path() const { return dir_ + "/state.json"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Writes `content` to `path` atomically and durably (temp file, fsync, rename, fsync dir).
absl::Status WriteFileAtomically(const std::string& path, const std::string& content);

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_STATE_STORE_H_
