// Controller: where this process changes the proxy's desired state.
//
// It owns the config as read from the file, the weights set through the API (overrides),
// and the generation. Every change goes through the same steps, under one mutex:
//   1. validate the change whole (nothing is applied if any part is wrong);
//   2. build the new immutable RoutingTable;
//   3. commit the new state with its audit entry to the StateBackend (state_dir, or etcd)
//      - if that fails, stop;
//   4. publish the table (workers see it on their next call).
//
// With a shared backend (etcd), every replica accepts changes: a commit that loses the race
// with another replica's (a StoreConflict) reads the store again and recomputes, and the
// other replicas' commits arrive through the backend's watch (Adopt).
//
// Which wins when the API and the file disagree: the API's weights for a route are kept
// across reloads until the file changes that route's definition (its match or its split).
// Then the file wins and the reload's notes say so. An override whose pool disappears from
// the file is dropped too. The same rule applies on restart.
//
//   auto controller = Controller::Create(*std::move(config));
//   auto generation = (*controller)->SetWeights("alice", "infer", {{"v1", 50}, {"v2", 50}},
//                                                /*expected_generation=*/7, "canary to 50%");
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_CONTROL_CONTROLLER_H_
#define ROLLOUT_CONTROL_CONTROLLER_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "routing/routing_table_store.h"
#include "state/audit_log.h"
#include "state/state_backend.h"
#include "state/state_store.h"

namespace rollout::control {

class Controller final {
 public:
  // Loads and reconciles state_dir (when the config has one) and publishes the first table.
  // A corrupt state file is moved aside and the proxy starts from the file's weights; the
  // notes and the audit log say so.
  // The backend is the config's (state_store.etcd, else state_dir) unless one is given.
  static absl::StatusOr<std::unique_ptr<Controller>> Create(
      Config config, std::unique_ptr<StateBackend> backend = nullptr);

  // Replicas sharing an etcd store all change the desired state, but only one runs the
  // rollout engine (SharedStateReplica's election): `leads` says whether this one does,
  // `leader` names the one that does. A single process always leads.
  void SetEngineLeader(bool leads, const std::string& leader);
  bool leads_engine() const;
  // "leader" or "follower" with a shared store, else ""; and the leader's description.
  std::string Role() const;
  std::string Leader() const;

  const routing::RoutingTableStore* store() const { return &store_; }
  AuditLog& audit() { return backend_->audit(); }
  StateBackend* backend() { return backend_.get(); }
  // What happened while loading the state (printed by the proxy at startup).
  const std::vector<std::string>& startup_notes() const { return startup_notes_; }

  struct View {
    uint64_t generation;
    Config config;                                       // as in the file
    std::shared_ptr<const routing::RoutingTable> table;  // in effect
    std::map<std::string, std::string> weights_source;   // by route: file, api or rollout
    std::vector<routing::RouteSpec> effective_routes;    // the file's, with API splits
  };
  View Current() const;

  // Replaces `route`'s split. INVALID_ARGUMENT names the bad field (route, weights[pool],
  // reason); ABORTED when expected_generation is stale, with the current generation.
  absl::StatusOr<uint64_t> SetWeights(const std::string& actor, const std::string& route,
                                      const std::map<std::string, double>& weights,
                                      std::optional<uint64_t> expected_generation,
                                      const std::string& reason);

  struct ReloadResult {
    uint64_t generation;
    bool changed;
    std::vector<std::string> notes;
  };
  // Re-reads the config file. An invalid file changes nothing and its error is returned.
  absl::StatusOr<ReloadResult> Reload(const std::string& actor, const std::string& reason);

  // For the rollout engine, in one atomic step: replaces the engine's records, marks
  // `route` held (or not) by a rollout, applies `change` to the route when given, and
  // appends `entry` (its route, before, after and generation are filled in here). The
  // generation moves only if the table changes. Nothing is applied if any part fails.
  // `by_engine`: a decision of the engine's own (not a person's verb); with a shared
  // backend it needs this replica to lead (SetFence), and carries the fence.
  // A StoreConflict means the records changed underneath: the controller has read them
  // again (rollouts()), and the engine recomputes.
  absl::StatusOr<uint64_t> CommitRollout(const std::string& route,
                                         std::optional<RouteOverride> change, bool hold,
                                         nlohmann::json rollouts, AuditEntry entry,
                                         bool by_engine = false);
  // The engine's records as last committed (or loaded at startup).
  nlohmann::json rollouts() const;

  // The version registry (state/version_record.h), committed and audited with the state.
  // Add: INVALID_ARGUMENT names a bad field or unknown pool, ALREADY_EXISTS a taken name,
  // FAILED_PRECONDITION a pool that already holds a live version. Deactivate: NOT_FOUND,
  // or FAILED_PRECONDITION naming the traffic the version still serves. Both fill in who
  // and when.
  absl::StatusOr<VersionRecord> AddVersion(const std::string& actor, VersionRecord version,
                                           const std::string& reason);
  absl::StatusOr<VersionRecord> DeactivateVersion(const std::string& actor, const std::string& name,
                                                  const std::string& reason);
  std::map<std::string, VersionRecord> Versions() const;
  // What a rollout's stable or candidate names: a version (then its pool), or a pool (then
  // its live version, "" if it has none, as before versions existed). A deactivated version
  // (or a pool whose versions are all deactivated) is FAILED_PRECONDITION saying so.
  struct Named {
    std::string pool;
    std::string version;
  };
  absl::StatusOr<Named> ResolveVersion(const std::string& name) const;

  // Takes a state another replica committed (the backend's watch calls it): reconciles it
  // with this replica's file and publishes its table. An older or equal revision is ignored.
  // Then calls the SetOnAdopt callback, outside the lock.
  void Adopt(PersistedState next);
  void SetOnAdopt(std::function<void()> on_adopt);
  // The leader's fence for the engine's decisions (nullopt: this replica does not lead).
  void SetFence(std::optional<Fence> fence);
  // How this replica signs the audit entries it writes to a shared log.
  void SetReplicaName(std::string name);
  // Follows the backend's commits from now on (a shared backend only), until
  // StopWatchingBackend().
  void WatchBackend();
  void StopWatchingBackend();

 private:
  using Overrides = std::map<std::string, RouteOverride>;

  Controller(Config config, std::shared_ptr<const routing::RoutingTable> table,
             PersistedState state, std::unique_ptr<StateBackend> backend)
      : config_(std::move(config)),
        state_(std::move(state)),
        backend_(std::move(backend)),
        store_(std::move(table)) {}

  // The state to start from: loaded, reconciled with the file, and committed if that
  // changed it. Adds what happened to `notes`.
  static absl::StatusOr<std::pair<PersistedState, std::shared_ptr<const routing::RoutingTable>>>
  StartState(const Config& config, StateBackend* backend, std::vector<std::string>* notes);
  // Runs `change` under mu_, again after reading the store when it lost a race with another
  // replica (a StoreConflict), a few times at most.
  template <typename Change>
  auto Retrying(Change change) -> decltype(change());
  // Reads the store and takes its state (after a conflict). True if it moved.
  bool RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AdoptLocked(PersistedState next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> SetWeightsLocked(const std::string& actor, const std::string& route,
                                            const std::map<std::string, double>& weights,
                                            std::optional<uint64_t> expected_generation,
                                            const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ReloadResult> ReloadLocked(Config file, const std::string& actor,
                                            const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Drops overrides the file has changed or made impossible; returns why, one note each.
  // Routes a rollout holds keep their weights while their pools exist.
  static std::vector<std::string> Reconcile(const Config& file, Overrides* overrides,
                                            const std::set<std::string>& held);
  // FAILED_PRECONDITION if any pool `split` gives traffic holds only deactivated versions.
  absl::Status CheckNotDeactivatedLocked(const std::vector<routing::SplitSpec>& split) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Versions whose pool gets traffic in `next` for the first time since they were
  // registered are marked first_served at `now`.
  void MarkServedLocked(PersistedState* next, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static absl::StatusOr<std::shared_ptr<const routing::RoutingTable>> Build(
      const Config& file, const Overrides& overrides, uint64_t generation);
  // Steps 3-4 above; a null table publishes nothing.
  absl::Status CommitLocked(PersistedState next, std::shared_ptr<const routing::RoutingTable> table,
                            AuditEntry entry, const Fence* fence = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable std::mutex mu_;
  // Serializes reloads, so that an older read of the file never lands after a newer one;
  // the file is read holding this, not mu_.
  std::mutex reload_mu_;
  bool leads_engine_ ABSL_GUARDED_BY(mu_) = true;
  std::string leader_ ABSL_GUARDED_BY(mu_);
  Config config_ ABSL_GUARDED_BY(mu_);
  PersistedState state_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<StateBackend> backend_;
  std::function<void()> on_adopt_ ABSL_GUARDED_BY(mu_);
  std::optional<Fence> fence_ ABSL_GUARDED_BY(mu_);
  std::string replica_name_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> startup_notes_;
  routing::RoutingTableStore store_;
};

// Defined here so that each of the controller*.cc files can use it.
template <typename Change>
auto Controller::Retrying(Change change) -> decltype(change()) {
  constexpr int kAttempts = 8;
  for (int attempt = 1;; ++attempt) {
    bool moved = false;
    std::function<void()> then;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto result = change();
      if (result.ok() || !IsStoreConflict(result.status()) || attempt == kAttempts) {
        return result;
      }
      moved = RefreshLocked();
      then = on_adopt_;
    }
    if (moved && then) then();
  }
}

// Fingerprints start with their format, so that one written by an older version is told
// apart from a changed file.
inline constexpr char kFingerprintFormat[] = "v2|";
// The file's definition of the route (RouteSpec::definition: every key, canonical YAML, so
// a comment or a layout change is no change).
std::string RouteFingerprint(const routing::RouteSpec& route);
// The same for a whole table: every pool's and route's definition, plus what overrides
// change in a route (split, mirror, override header).
std::string TableFingerprint(const routing::RoutingTable& table);

}  // namespace rollout::control

#endif  // ROLLOUT_CONTROL_CONTROLLER_H_
