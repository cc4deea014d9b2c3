// AuditLog: one JSON line per accepted change, appended to state_dir/audit.log.
//
// Each line holds time, actor (the admin token's name), verb, route, before, after, reason
// and the generation the change produced. Lines are fsynced as they are written. A partial
// last line (the process was killed while writing) is skipped on load, with a warning.
// Without a state_dir the log lives in memory only.
//
//   auto log = AuditLog::Open("/var/lib/rollout-proxy/audit.log");
//   (*log)->Append({absl::Now(), "alice", "SetWeights", "infer", before, after, "canary", 7});
//   AuditLog::Page page = (*log)->Read({.route = "infer", .limit = 50});
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_STATE_AUDIT_LOG_H_
#define ROLLOUT_STATE_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rollout::control {

struct AuditEntry {
  absl::Time time;
  std::string actor;
  std::string verb;
  std::string route;
  nlohmann::json before;
  nlohmann::json after;
  std::string reason;
  uint64_t generation = 0;
  // Its place in a shared log (the etcd store numbers entries); 0 in a file's log.
  uint64_t seq = 0;
  // The replica that wrote it, in a log that several share; "" otherwise.
  std::string replica;

  nlohmann::json ToJson() const;
  // nullopt when `j` is not an entry (no valid time).
  static std::optional<AuditEntry> FromJson(const nlohmann::json& j);
};

class AuditLog final {
 public:
  // Opens (creating if needed) `path` and loads its entries; an empty path keeps the log in
  // memory only.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::string& path);

  absl::Status Append(const AuditEntry& entry);

  struct Query {
    std::string route;  // empty: every route
    std::optional<absl::Time> since, until;
    size_t start = 0;  // index to resume from (a page token)
    size_t limit = 100;
  };
  struct Page {
    std::vector<AuditEntry> entries;
    std::optional<size_t> next;  // where the next page starts, if there is one
  };
  Page Read(const Query& query) const;

  // In memory only: adds an entry of a shared log at its place by seq, once (a second
  // copy of the same seq is ignored).
  void Mirror(AuditEntry entry);

  // Lines of the file that could not be parsed when it was opened.
  int skipped_lines() const { return skipped_lines_; }

 private:
  AuditLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  const int fd_;  // -1 when in memory only
  mutable std::mutex mu_;
  std::vector<AuditEntry> entries_ ABSL_GUARDED_BY(mu_);
  int skipped_lines_ = 0;

 public:
  ~AuditLog();
};

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_AUDIT_LOG_H_
