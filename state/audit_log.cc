#include "state/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace rollout::control {

std::optional<AuditEntry> AuditEntry::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  AuditEntry e;
  absl::Time time;
  std::string err;
  if (!j.contains("time") || !j["time"].is_string() ||
      !absl::ParseTime(absl::RFC3339_full, j["time"].get<std::string>(), &time, &err)) {
    return std::nullopt;
  }
  e.time = time;
  e.actor = j.value("actor", "");
  e.verb = j.value("verb", "");
  e.route = j.value("route", "");
  e.before = j.value("before", nlohmann::json());
  e.after = j.value("after", nlohmann::json());
  e.reason = j.value("reason", "");
  e.generation = j.value("generation", uint64_t{0});
  e.seq = j.value("seq", uint64_t{0});
  e.replica = j.value("replica", "");
  return e;
}

nlohmann::json AuditEntry::ToJson() const {
  nlohmann::json j = {{"time", absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone())},
                      {"actor", actor},
                      {"verb", verb},
                      {"route", route},
                      {"before", before},
                      {"after", after},
                      {"reason", reason},
                      {"generation", generation}};
  if (seq != 0) j["seq"] = seq;
  if (!replica.empty()) j["replica"] = replica;
  return j;
}

namespace {

// The entries of the log at `path`, and how many lines could not be read.
std::vector<AuditEntry> ReadEntries(const std::string& path, int* skipped) {
  std::vector<AuditEntry> entries;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::optional<AuditEntry> e =
        AuditEntry::FromJson(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
    if (e.has_value()) {
      entries.push_back(*std::move(e));
    } else {
      ++*skipped;
    }
  }
  return entries;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path) {
  if (path.empty()) return std::unique_ptr<AuditLog>(new AuditLog("", -1));
  int skipped = 0;
  std::vector<AuditEntry> entries = ReadEntries(path, &skipped);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open the audit log ", path, ": ", std::strerror(errno)));
  }
  // A torn last line (killed mid-write) would glue itself to the next entry; end it.
  if (skipped > 0) {
    if (write(fd, "\n", 1) != 1) {
      close(fd);
      return absl::InternalError(absl::StrCat("cannot write the audit log ", path));
    }
  }
  std::unique_ptr<AuditLog> log(new AuditLog(path, fd));
  log->entries_ = std::move(entries);
  log->skipped_lines_ = skipped;
  return log;
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) close(fd_);
}

absl::Status AuditLog::Append(const AuditEntry& entry) {
  const std::string line = entry.ToJson().dump() + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ >= 0) {
    if (write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        fdatasync(fd_) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot append to the audit log ", path_, ": ", std::strerror(errno)));
    }
  }
  entries_.push_back(entry);
  return absl::OkStatus();
}

void AuditLog::Mirror(AuditEntry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  auto at = std::lower_bound(entries_.begin(), entries_.end(), entry.seq,
                             [](const AuditEntry& e, uint64_t seq) { return e.seq < seq; });
  if (at != entries_.end() && at->seq == entry.seq) return;  // already here
  entries_.insert(at, std::move(entry));
}

AuditLog::Page AuditLog::Read(const Query& query) const {
  std::lock_guard<std::mutex> lock(mu_);
  Page page;
  for (size_t i = query.start; i < entries_.size(); ++i) {
    const AuditEntry& e = entries_[i];
    if (!query.route.empty() && e.route != query.route) continue;
    if (query.since.has_value() && e.time < *query.since) continue;
    if (query.until.has_value() && e.time > *query.until) continue;
    if (page.entries.size() == query.limit) {
      page.next = i;
      break;
    }
    page.entries.push_back(e);
  }
  return page;
}

}  // namespace rollout::control
