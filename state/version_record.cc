#include "state/version_record.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rollout::control {
namespace {

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast()) return "";
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> TimeFrom(const nlohmann::json& j, const char* key) {
  const std::string text = j.value(key, "");
  if (text.empty()) return absl::InfinitePast();
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": \"", text, "\": ", err));
  }
  return t;
}

bool NameChar(char c) { return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-'; }

}  // namespace

nlohmann::json VersionRecord::ToJson() const {
  nlohmann::json j = {{"name", name},
                      {"pool", pool},
                      {"model", model},
                      {"model_version", model_version},
                      {"artifact", artifact},
                      {"digest", digest},
                      {"notes", notes},
                      {"registered_by", registered_by},
                      {"registered", TimeText(registered)},
                      {"first_served", TimeText(first_served)}};
  if (deactivated) {
    j["deactivated"] = {
        {"by", deactivated_by}, {"reason", deactivated_reason}, {"at", TimeText(deactivated_at)}};
  }
  return j;
}

absl::StatusOr<VersionRecord> VersionRecord::FromJson(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("pool") ||
      !j["pool"].is_string()) {
    return absl::InvalidArgumentError("a version needs \"name\" and \"pool\"");
  }
  VersionRecord v;
  v.name = j["name"].get<std::string>();
  v.pool = j["pool"].get<std::string>();
  v.model = j.value("model", "");
  v.model_version = j.value("model_version", "");
  v.artifact = j.value("artifact", "");
  v.digest = j.value("digest", "");
  v.notes = j.value("notes", "");
  v.registered_by = j.value("registered_by", "");
  absl::StatusOr<absl::Time> registered = TimeFrom(j, "registered");
  if (!registered.ok()) return registered.status();
  v.registered = *registered;
  absl::StatusOr<absl::Time> served = TimeFrom(j, "first_served");
  if (!served.ok()) return served.status();
  v.first_served = *served;
  if (j.contains("deactivated") && j["deactivated"].is_object()) {
    const nlohmann::json& d = j["deactivated"];
    v.deactivated = true;
    v.deactivated_by = d.value("by", "");
    v.deactivated_reason = d.value("reason", "");
    absl::StatusOr<absl::Time> at = TimeFrom(d, "at");
    if (!at.ok()) return at.status();
    v.deactivated_at = *at;
  }
  return v;
}

absl::Status ValidateVersionFields(const VersionRecord& v) {
  if (v.name.empty() || v.name.size() > 63) {
    return absl::InvalidArgumentError("name: 1 to 63 characters");
  }
  for (char c : v.name) {
    if (!NameChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("name: \"", v.name, "\" may hold only letters, digits, '.', '_' and '-'"));
    }
  }
  if (v.pool.empty()) return absl::InvalidArgumentError("pool: required");
  if (!v.digest.empty()) {
    const bool prefixed = absl::StartsWith(v.digest, "sha256:");
    const std::string hex = prefixed ? v.digest.substr(7) : "";
    bool all_hex = hex.size() == 64;
    for (char c : hex) all_hex = all_hex && absl::ascii_isxdigit(c) && !absl::ascii_isupper(c);
    if (!all_hex) {
      return absl::InvalidArgumentError(absl::StrCat(
          "digest: \"", v.digest, "\" must be sha256: followed by 64 lowercase hex digits"));
    }
  }
  struct Limit {
    const char* field;
    const std::string& value;
    size_t max;
  };
  for (const Limit& l : {Limit{"model", v.model, 256}, Limit{"model_version", v.model_version, 64},
                         Limit{"artifact", v.artifact, 2048}, Limit{"notes", v.notes, 8192}}) {
    if (l.value.size() > l.max) {
      return absl::InvalidArgumentError(
          absl::StrCat(l.field, ": ", l.value.size(), " bytes, at most ", l.max));
    }
  }
  return absl::OkStatus();
}

std::string DeactivationText(const VersionRecord& v) {
  return absl::StrCat("deactivated by ", v.deactivated_by, " at ", TimeText(v.deactivated_at),
                      v.deactivated_reason.empty() ? "" : ": ", v.deactivated_reason);
}

}  // namespace rollout::control
