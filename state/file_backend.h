// FileBackend: the state in state_dir/state.json and the audit log in state_dir/audit.log,
// or both in memory when there is no state_dir. One process writes them, so a commit never
// conflicts (replicas share state through EtcdStore instead).
//
//   auto backend = FileBackend::Open("/var/lib/rollout-proxy");
//
// Thread-safety: thread-safe (the Controller serialises commits).
#ifndef ROLLOUT_STATE_FILE_BACKEND_H_
#define ROLLOUT_STATE_FILE_BACKEND_H_

#include <memory>
#include <optional>
#include <string>

#include "state/state_backend.h"

namespace rollout::control {

class FileBackend final : public StateBackend {
 public:
  // `dir` empty: in memory only. Creates the folder if needed.
  static absl::StatusOr<std::unique_ptr<FileBackend>> Open(const std::string& dir);

  absl::StatusOr<std::optional<PersistedState>> Load() override;
  absl::Status Commit(PersistedState* next, const AuditEntry* entry,
                      const Fence* fence = nullptr) override;
  absl::StatusOr<std::string> Quarantine() override;
  AuditLog& audit() override { return *audit_; }
  std::string where() const override;
  bool durable() const override { return store_.has_value(); }

 private:
  FileBackend(std::optional<StateStore> store, std::unique_ptr<AuditLog> audit)
      : store_(std::move(store)), audit_(std::move(audit)) {}

  const std::optional<StateStore> store_;
  std::unique_ptr<AuditLog> audit_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_FILE_BACKEND_H_
