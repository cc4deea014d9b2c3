// The Controller's version registry: add, deactivate, list and resolve versions, and the
// rules that keep a deactivated version from getting traffic again.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "control/controller.h"

namespace rollout::control {
namespace {

using Versions = std::map<std::string, VersionRecord>;

// The pool's live (not deactivated) version, if any.
const VersionRecord* LiveOn(const Versions& versions, const std::string& pool) {
  for (const auto& [name, v] : versions) {
    if (v.pool == pool && !v.deactivated) return &v;
  }
  return nullptr;
}

// The pool's latest deactivated version, when it has no live one: the pool is out of use.
const VersionRecord* RetiredOn(const Versions& versions, const std::string& pool) {
  if (LiveOn(versions, pool) != nullptr) return nullptr;
  const VersionRecord* latest = nullptr;
  for (const auto& [name, v] : versions) {
    if (v.pool == pool && (latest == nullptr || v.deactivated_at > latest->deactivated_at)) {
      latest = &v;
    }
  }
  return latest;
}

absl::Status Deactivated(const VersionRecord& v) {
  return absl::FailedPreconditionError(absl::StrCat(
      "version \"", v.name, "\" (pool ", v.pool, ") is ", DeactivationText(v),
      "; a deactivated version is never again a candidate, a rollback target or given traffic"));
}

// What traffic `pool` serves under the effective routes: one phrase per route, e.g.
// "route infer sends it 25%", "route infer mirrors to it", "route infer's rollout holds it".
std::vector<std::string> TrafficOf(const Config& config,
                                   const std::map<std::string, RouteOverride>& overrides,
                                   const std::set<std::string>& held, const std::string& pool) {
  std::vector<std::string> out;
  for (const auto& route : config.routes) {
    auto o = overrides.find(route.name);
    const std::vector<routing::SplitSpec>& split =
        o == overrides.end() ? route.split : o->second.split;
    double total = 0, mine = 0;
    bool listed = false;
    for (const auto& arm : split) {
      total += arm.weight;
      if (arm.pool == pool) {
        mine += arm.weight;
        listed = true;
      }
    }
    if (mine > 0 && total > 0) {
      out.push_back(absl::StrFormat("route %s sends it %g%%", route.name, 100 * mine / total));
    } else if (listed && held.count(route.name) > 0) {
      out.push_back(absl::StrCat("route ", route.name, "'s rollout holds it"));
    }
    std::string mirror = route.mirror_pool;
    if (o != overrides.end() && o->second.mirror_pool.has_value()) mirror = *o->second.mirror_pool;
    if (!mirror.empty() && mirror == pool) {
      out.push_back(absl::StrCat("route ", route.name, " mirrors to it"));
    }
  }
  return out;
}

}  // namespace

absl::Status Controller::CheckNotDeactivatedLocked(
    const std::vector<routing::SplitSpec>& split) const {
  for (const auto& arm : split) {
    if (arm.weight <= 0) continue;
    if (const VersionRecord* retired = RetiredOn(state_.versions, arm.pool)) {
      return Deactivated(*retired);
    }
  }
  return absl::OkStatus();
}

void Controller::MarkServedLocked(PersistedState* next, absl::Time now) const {
  for (auto& [name, v] : next->versions) {
    if (v.deactivated || v.first_served != absl::InfinitePast()) continue;
    for (const std::string& what : TrafficOf(config_, next->overrides, {}, v.pool)) {
      if (what.find("sends it") != std::string::npos) v.first_served = now;
    }
  }
}

absl::StatusOr<VersionRecord> Controller::AddVersion(const std::string& actor,
                                                     VersionRecord version,
                                                     const std::string& reason) {
  RETURN_IF_ERROR(ValidateVersionFields(version));
  return Retrying([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<VersionRecord> {
    if (auto it = state_.versions.find(version.name); it != state_.versions.end()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "version \"", version.name, "\" is already registered (pool ", it->second.pool, ", by ",
          it->second.registered_by, "); a version's name is never reused"));
    }
    std::vector<std::string> pools;
    for (const auto& p : config_.pools) pools.push_back(p.name);
    if (std::find(pools.begin(), pools.end(), version.pool) == pools.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pool: unknown pool \"", version.pool, "\" (pools: ", absl::StrJoin(pools, ", "), ")"));
    }
    if (const VersionRecord* live = LiveOn(state_.versions, version.pool)) {
      return absl::FailedPreconditionError(
          absl::StrCat("pool ", version.pool, " already holds version \"", live->name,
                       "\"; deactivate it before registering another on the same pool"));
    }
    const absl::Time now = absl::Now();
    version.registered_by = actor;
    version.registered = now;
    version.first_served = absl::InfinitePast();
    version.deactivated = false;
    PersistedState next = state_;
    next.versions[version.name] = version;
    AuditEntry entry{now,
                     actor,
                     "AddVersion",
                     "",
                     nullptr,
                     version.ToJson(),
                     reason.empty() ? absl::StrCat("registered version ", version.name) : reason,
                     state_.generation};
    RETURN_IF_ERROR(CommitLocked(std::move(next), nullptr, std::move(entry)));
    return state_.versions.at(version.name);
  });
}

absl::StatusOr<VersionRecord> Controller::DeactivateVersion(const std::string& actor,
                                                            const std::string& name,
                                                            const std::string& reason) {
  if (reason.empty())
    return absl::InvalidArgumentError("reason: required, it goes to the audit log");
  return Retrying([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<VersionRecord> {
    auto it = state_.versions.find(name);
    if (it == state_.versions.end()) {
      return absl::NotFoundError(absl::StrCat("no version \"", name, "\" is registered"));
    }
    if (it->second.deactivated) return Deactivated(it->second);
    const std::vector<std::string> traffic =
        TrafficOf(config_, state_.overrides, state_.held_routes, it->second.pool);
    if (!traffic.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("version \"", name, "\" still serves traffic (pool ", it->second.pool, ": ",
                       absl::StrJoin(traffic, "; "),
                       "); move its traffic off first (set-weight, or end the rollout)"));
    }
    const absl::Time now = absl::Now();
    PersistedState next = state_;
    VersionRecord& v = next.versions[name];
    const nlohmann::json before = v.ToJson();
    v.deactivated = true;
    v.deactivated_by = actor;
    v.deactivated_reason = reason;
    v.deactivated_at = now;
    AuditEntry entry{now,        actor,  "DeactivateVersion", "", before,
                     v.ToJson(), reason, state_.generation};
    RETURN_IF_ERROR(CommitLocked(std::move(next), nullptr, std::move(entry)));
    return state_.versions.at(name);
  });
}

std::map<std::string, VersionRecord> Controller::Versions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.versions;
}

absl::StatusOr<Controller::Named> Controller::ResolveVersion(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = state_.versions.find(name); it != state_.versions.end()) {
    if (it->second.deactivated) return Deactivated(it->second);
    return Named{it->second.pool, name};
  }
  if (const VersionRecord* live = LiveOn(state_.versions, name)) return Named{name, live->name};
  if (const VersionRecord* retired = RetiredOn(state_.versions, name)) return Deactivated(*retired);
  return Named{name, ""};
}

}  // namespace rollout::control
