// StateBackend: where the desired state and the audit log are kept, behind the Controller.
// FileBackend keeps them in state_dir (or in memory without one), for one process;
// EtcdStore keeps them in etcd, shared by every replica.
//
// A change is committed with its audit entry as one step. A shared backend commits only if
// nobody else has committed since the state the change was computed from
// (PersistedState::revision); otherwise it answers a StoreConflict, and the caller reads the
// state again and recomputes.
//
// Thread-safety: implementations are thread-safe.
#ifndef ROLLOUT_STATE_STATE_BACKEND_H_
#define ROLLOUT_STATE_STATE_BACKEND_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "state/audit_log.h"
#include "state/state_store.h"

namespace rollout::control {

// A leader's proof on a commit: it lands only while `key` (the leader's key in etcd's
// election) still exists with this creation revision, so a leader that lost its lease (a
// pause, a partition) cannot write after its successor has taken over.
struct Fence {
  std::string key;
  int64_t create_revision = 0;
};

class StateBackend {
 public:
  virtual ~StateBackend() = default;

  // The last committed state (nullopt when there is none yet), with its revision. An
  // unreadable state is DATA_LOSS, naming where it is.
  virtual absl::StatusOr<std::optional<PersistedState>> Load() = 0;
  // Commits `next` (computed from a state read at next->revision) and appends `entry` (if
  // not null), as one change. On success `next` is what was written, at its new revision.
  // With a `fence`, a commit after the leadership ended is FAILED_PRECONDITION.
  virtual absl::Status Commit(PersistedState* next, const AuditEntry* entry,
                              const Fence* fence = nullptr) = 0;
  // Moves an unreadable state aside; returns where it went.
  virtual absl::StatusOr<std::string> Quarantine() = 0;
  virtual AuditLog& audit() = 0;
  // From now on, hands `on_state` each state that another writer commits, on the
  // backend's own thread. A file backend has no other writer and never calls it.
  virtual void Watch(std::function<void(PersistedState)> on_state) { (void)on_state; }
  // Stops the watch; once it returns, on_state is not running and is never called again.
  virtual void StopWatch() {}
  // Where the state lives, for messages: "state_dir /var/lib/x", "etcd 127.0.0.1:2379 /p/".
  virtual std::string where() const = 0;
  // False when nothing survives a restart (no state_dir).
  virtual bool durable() const = 0;
  // True when other replicas write the same state (every replica may then change it).
  virtual bool shared() const { return false; }
};

// The answer to a commit that lost a race with another writer.
absl::Status StoreConflict(absl::string_view what);
bool IsStoreConflict(const absl::Status& status);

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_STATE_BACKEND_H_
