// VersionRecord: one registered model version, as the version registry keeps it.
//
// A version names a pool (the endpoints that serve it) and says what it is: the model and
// model_version the servers host, where the artifact came from and its digest, and notes.
// It is registered once and never renamed; deactivation is final (a deactivated version is
// never again a candidate, a rollback target or given traffic). The records live in the
// desired state (state.json, or the etcd store's state key), so they are committed,
// audited and shared exactly like the routes' weights.
//
//   VersionRecord v;
//   v.name = "v2"; v.pool = "canary"; v.digest = "sha256:...";
//   absl::Status s = ValidateVersionFields(v);  // INVALID_ARGUMENT naming the field
//
// Thread-safety: plain values.
#ifndef ROLLOUT_STATE_VERSION_RECORD_H_
#define ROLLOUT_STATE_VERSION_RECORD_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rollout::control {

struct VersionRecord {
  std::string name;
  std::string pool;
  std::string model;          // the model's name on its servers ("" if not given)
  std::string model_version;  // "" if not given
  std::string artifact;       // a URI
  std::string digest;         // "sha256:<64 hex>", or ""
  std::string notes;
  std::string registered_by;
  absl::Time registered = absl::InfinitePast();
  // When its pool first had a share of a route's traffic after registration (InfinitePast:
  // never yet). Tells a version waiting for its first release from one that served.
  absl::Time first_served = absl::InfinitePast();
  bool deactivated = false;
  std::string deactivated_by;
  std::string deactivated_reason;
  absl::Time deactivated_at = absl::InfinitePast();

  nlohmann::json ToJson() const;
  // DATA_LOSS-worthy problems are INVALID_ARGUMENT here; the state reader wraps them.
  static absl::StatusOr<VersionRecord> FromJson(const nlohmann::json& j);
};

// The fields a person gives (name, digest, lengths); INVALID_ARGUMENT names the field.
absl::Status ValidateVersionFields(const VersionRecord& v);

// "deactivated by alice at 2026-12-01T10:00:00Z: CVE-2026-1234".
std::string DeactivationText(const VersionRecord& v);

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_VERSION_RECORD_H_
