#include "state/state_backend.h"

#include "absl/strings/cord.h"

namespace rollout::control {

namespace {
constexpr char kConflictPayload[] = "type.rollout-proxy/store-conflict";
}  // namespace

absl::Status StoreConflict(absl::string_view what) {
  absl::Status s = absl::AbortedError(what);
  s.SetPayload(kConflictPayload, absl::Cord("1"));
  return s;
}

bool IsStoreConflict(const absl::Status& status) {
  return status.GetPayload(kConflictPayload).has_value();
}

}  // namespace rollout::control
