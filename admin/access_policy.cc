#include "admin/access_policy.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rollout::control {
namespace {

struct MethodRole {
  const char* method;
  Role role;
};

// Reads for viewers; every change of state for admins.
constexpr MethodRole kMethodRoles[] = {
    {"GetConfig", Role::kViewer},        {"ListRoutes", Role::kViewer},
    {"GetAuditLog", Role::kViewer},      {"GetRollout", Role::kViewer},
    {"ListReleases", Role::kViewer},     {"WatchRollout", Role::kViewer},
    {"SetWeights", Role::kAdmin},        {"ReloadConfig", Role::kAdmin},
    {"StartRollout", Role::kAdmin},      {"PauseRollout", Role::kAdmin},
    {"ResumeRollout", Role::kAdmin},     {"PromoteRollout", Role::kAdmin},
    {"AbortRollout", Role::kAdmin},      {"ListVersions", Role::kViewer},
    {"GetVersion", Role::kViewer},       {"AddVersion", Role::kAdmin},
    {"DeactivateVersion", Role::kAdmin}, {"Rollback", Role::kAdmin},
    {"ApproveRollout", Role::kAdmin},
};

}  // namespace

std::optional<Role> AccessPolicy::RoleFor(absl::string_view method) {
  for (const MethodRole& m : kMethodRoles) {
    if (method == m.method) return m.role;
  }
  return std::nullopt;
}

absl::StatusOr<Principal> AccessPolicy::Check(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view method) const {
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("missing `authorization: Bearer <token>` metadata");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  std::optional<Principal> who;
  if (absl::StartsWith(value, kBearer)) who = tokens_.Authenticate(value.substr(kBearer.size()));
  if (!who.has_value()) return absl::UnauthenticatedError("invalid bearer token");
  const std::optional<Role> needed = RoleFor(method);
  if (!needed.has_value()) {
    return absl::PermissionDeniedError(absl::StrCat(method, " has no access rule"));
  }
  if (*needed == Role::kAdmin && who->role != Role::kAdmin) {
    return absl::PermissionDeniedError(
        absl::StrCat("token \"", who->name, "\" has the viewer role; ", method, " needs admin"));
  }
  return *who;
}

}  // namespace rollout::control
