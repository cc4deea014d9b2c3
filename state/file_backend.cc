#include "state/file_backend.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace rollout::control {

absl::StatusOr<std::unique_ptr<FileBackend>> FileBackend::Open(const std::string& dir) {
  if (dir.empty()) {
    auto log = AuditLog::Open("");
    if (!log.ok()) return log.status();
    return std::unique_ptr<FileBackend>(new FileBackend(std::nullopt, *std::move(log)));
  }
  mkdir(dir.c_str(), 0750);  // fails harmlessly if it exists
  auto log = AuditLog::Open(dir + "/audit.log");
  if (!log.ok()) return log.status();
  return std::unique_ptr<FileBackend>(new FileBackend(StateStore(dir), *std::move(log)));
}

absl::StatusOr<std::optional<PersistedState>> FileBackend::Load() {
  if (!store_.has_value()) return std::optional<PersistedState>();
  return store_->Load();
}

absl::Status FileBackend::Commit(PersistedState* next, const AuditEntry* entry, const Fence*) {
  if (store_.has_value()) {
    if (absl::Status s = store_->Save(*next); !s.ok()) {
      return absl::InternalError(
          absl::StrCat("the change was not applied: cannot persist it: ", s.message()));
    }
  }
  if (entry == nullptr) return absl::OkStatus();
  if (absl::Status s = audit_->Append(*entry); !s.ok()) {
    // The change is in effect and persisted; losing its audit line must not be silent.
    log::Error(s.message());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FileBackend::Quarantine() {
  if (!store_.has_value()) return absl::FailedPreconditionError("no state_dir");
  return store_->Quarantine();
}

std::string FileBackend::where() const {
  return store_.has_value() ? store_->path() : "memory (no state_dir)";
}

}  // namespace rollout::control
