#include "state/state_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rollout::control {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("cannot create", tmp);
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return Errno("cannot write", tmp);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    close(fd);
    return Errno("cannot fsync", tmp);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename onto", path);
  const std::string dir =
      path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  const int dir_fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno("cannot open folder", dir);
  const int synced = fsync(dir_fd);
  close(dir_fd);
  if (synced != 0) return Errno("cannot fsync folder", dir);
  return absl::OkStatus();
}

absl::StatusOr<PersistedState> StateFromJson(const std::string& text, const std::string& where) {
  auto corrupt = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(where, ": corrupt state: ", why));
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return corrupt("not valid JSON");
  if (!j.is_object() || j.value("format", 0) != 1) return corrupt("missing \"format\": 1");
  if (!j.contains("generation") || !j["generation"].is_number_unsigned()) {
    return corrupt("\"generation\" must be a non-negative integer");
  }
  PersistedState state;
  state.generation = j["generation"].get<uint64_t>();
  state.table_fingerprint = j.value("table_fingerprint", "");
  state.audit_seq = j.value("audit_seq", uint64_t{0});
  state.commit_id = j.value("commit_id", "");
  if (!j.contains("overrides") || !j["overrides"].is_object()) {
    return corrupt("\"overrides\" must be an object");
  }
  for (const auto& [route, o] : j["overrides"].items()) {
    if (!o.is_object() || !o.contains("split") || !o["split"].is_array() ||
        !o.contains("file_fingerprint") || !o["file_fingerprint"].is_string()) {
      return corrupt(
          absl::StrCat("overrides.", route, ": needs \"split\" and \"file_fingerprint\""));
    }
    RouteOverride override_;
    override_.file_fingerprint = o["file_fingerprint"].get<std::string>();
    for (const auto& arm : o["split"]) {
      if (!arm.is_object() || !arm.contains("pool") || !arm["pool"].is_string() ||
          !arm.contains("weight") || !arm["weight"].is_number()) {
        return corrupt(absl::StrCat("overrides.", route, ".split: entries need pool and weight"));
      }
      override_.split.push_back({arm["pool"].get<std::string>(), arm["weight"].get<double>()});
    }
    if (o.contains("mirror_pool") && o["mirror_pool"].is_string()) {
      override_.mirror_pool = o["mirror_pool"].get<std::string>();
      override_.mirror_percent = o.value("mirror_percent", 0.0);
    }
    override_.override_header = o.value("override_header", "");
    state.overrides.emplace(route, std::move(override_));
  }
  if (j.contains("rollouts")) state.rollouts = j["rollouts"];
  if (j.contains("held_routes") && j["held_routes"].is_array()) {
    for (const auto& r : j["held_routes"]) {
      if (r.is_string()) state.held_routes.insert(r.get<std::string>());
    }
  }
  if (j.contains("versions") && !j["versions"].is_array()) {
    return corrupt("\"versions\" must be a list");
  }
  for (const auto& v : j.value("versions", nlohmann::json::array())) {
    absl::StatusOr<VersionRecord> version = VersionRecord::FromJson(v);
    if (!version.ok()) return corrupt(absl::StrCat("versions: ", version.status().message()));
    state.versions.emplace(version->name, *std::move(version));
  }
  return state;
}

std::string StateToJson(const PersistedState& state) {
  nlohmann::json j;
  j["format"] = 1;
  j["generation"] = state.generation;
  j["table_fingerprint"] = state.table_fingerprint;
  if (state.audit_seq != 0) j["audit_seq"] = state.audit_seq;
  if (!state.commit_id.empty()) j["commit_id"] = state.commit_id;
  j["overrides"] = nlohmann::json::object();
  for (const auto& [route, o] : state.overrides) {
    nlohmann::json split = nlohmann::json::array();
    for (const auto& arm : o.split) split.push_back({{"pool", arm.pool}, {"weight", arm.weight}});
    nlohmann::json& out = j["overrides"][route];
    out = {{"split", split}, {"file_fingerprint", o.file_fingerprint}};
    if (o.mirror_pool.has_value()) {
      out["mirror_pool"] = *o.mirror_pool;
      out["mirror_percent"] = o.mirror_percent;
    }
    if (!o.override_header.empty()) out["override_header"] = o.override_header;
  }
  if (!state.rollouts.is_null()) j["rollouts"] = state.rollouts;
  j["held_routes"] = state.held_routes;
  if (!state.versions.empty()) {
    nlohmann::json versions = nlohmann::json::array();
    for (const auto& [name, v] : state.versions) versions.push_back(v.ToJson());
    j["versions"] = std::move(versions);
  }
  return j.dump(2) + "\n";
}

absl::StatusOr<std::optional<PersistedState>> StateStore::Load() const {
  std::ifstream file(path());
  if (!file) {
    if (access(path().c_str(), F_OK) != 0) return std::optional<PersistedState>();
    return Errno("cannot read", path());
  }
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<PersistedState> state = StateFromJson(text.str(), path());
  if (!state.ok()) return state.status();
  return std::optional<PersistedState>(*std::move(state));
}

absl::Status StateStore::Save(const PersistedState& state) const {
  return WriteFileAtomically(path(), StateToJson(state));
}

absl::StatusOr<std::string> StateStore::Quarantine() const {
  const std::string target = absl::StrCat(path(), ".corrupt-", absl::ToUnixSeconds(absl::Now()));
  if (rename(path().c_str(), target.c_str()) != 0) return Errno("cannot move aside", path());
  return target;
}

}  // namespace rollout::control
