#include "control/controller.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "config/config_keys.h"
#include "config/config_loader.h"

namespace rollout::control {
namespace {

nlohmann::json SplitJson(const std::vector<routing::SplitSpec>& split) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& arm : split) j[arm.pool] = arm.weight;
  return j;
}

const routing::RouteSpec* FindRoute(const Config& config, const std::string& name) {
  for (const auto& r : config.routes) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// The effective split of `route`: the API's if it has one, else the file's.
std::vector<routing::SplitSpec> EffectiveSplit(const routing::RouteSpec& route,
                                               const std::map<std::string, RouteOverride>& o) {
  auto it = o.find(route.name);
  return it == o.end() ? route.split : it->second.split;
}

// `route` as in effect: the file's, with what the API or a rollout set.
routing::RouteSpec Effective(routing::RouteSpec route,
                             const std::map<std::string, RouteOverride>& overrides) {
  auto it = overrides.find(route.name);
  if (it == overrides.end()) return route;
  const RouteOverride& o = it->second;
  route.split = o.split;
  if (o.mirror_pool.has_value()) {
    route.mirror_pool = *o.mirror_pool;
    route.mirror_percent = o.mirror_pool->empty() ? 0 : o.mirror_percent;
  }
  if (route.override_header.empty() && !o.override_header.empty()) {
    route.override_header = o.override_header;
  }
  if (!route.override_pools.empty()) {  // a rollout's pools may always be forced
    for (const auto& arm : o.split) {
      if (std::find(route.override_pools.begin(), route.override_pools.end(), arm.pool) ==
          route.override_pools.end()) {
        route.override_pools.push_back(arm.pool);
      }
    }
  }
  return route;
}

}  // namespace

std::string RouteFingerprint(const routing::RouteSpec& route) {
  return absl::StrCat(kFingerprintFormat, route.definition);
}

std::string TableFingerprint(const routing::RoutingTable& table) {
  std::string out = kFingerprintFormat;
  // What the file says of each pool and route, every key included...
  for (const auto& pool : table.pools())
    absl::StrAppend(&out, pool.name, "=", pool.definition, ";");
  for (const auto& route : table.routes()) {
    absl::StrAppend(&out, route.name, "=", route.definition,
                    // ...and what the API and rollouts change in a route (RouteOverride).
                    "|mirror:", route.mirror_pool, ":", route.mirror_ppm,
                    "|header:", route.override_header, "|split:");
    for (size_t i = 0; i < route.split.size(); ++i) {
      absl::StrAppend(&out, route.split.pool(i), ":", route.split.PartsPerMillion(i), ",");
    }
    out += ";";
  }
  return out;
}

bool IsCurrentFingerprint(absl::string_view fingerprint) {
  return absl::StartsWith(fingerprint, kFingerprintFormat);
}

absl::StatusOr<std::shared_ptr<const routing::RoutingTable>> Controller::Build(
    const Config& file, const Overrides& overrides, uint64_t generation) {
  std::vector<routing::RouteSpec> routes;
  for (const auto& route : file.routes) routes.push_back(Effective(route, overrides));
  return routing::RoutingTable::Create(file.pools, std::move(routes), generation);
}

std::vector<std::string> Controller::Reconcile(const Config& file, Overrides* overrides,
                                               const std::set<std::string>& held) {
  std::vector<std::string> notes;
  for (auto it = overrides->begin(); it != overrides->end();) {
    const routing::RouteSpec* route = FindRoute(file, it->first);
    std::string drop;
    const bool rollout = held.count(it->first) > 0;
    if (route == nullptr) {
      drop = "the file no longer has this route";
    } else if (!rollout && !IsCurrentFingerprint(it->second.file_fingerprint)) {
      // Set by an older version, whose fingerprint this one cannot compare: keep the
      // weights and take today's fingerprint of the file's route.
      it->second.file_fingerprint = RouteFingerprint(*route);
      notes.push_back(
          absl::StrCat("route ", it->first, ": API weights kept (recorded by an older version)"));
      ++it;
      continue;
    } else if (!rollout && RouteFingerprint(*route) != it->second.file_fingerprint) {
      drop = "the file changed this route, so the file's weights win";
    } else {
      for (const auto& arm : it->second.split) {
        bool known = false;
        for (const auto& pool : file.pools) known = known || pool.name == arm.pool;
        if (!known) drop = absl::StrCat("pool \"", arm.pool, "\" is gone from the file");
      }
    }
    if (!drop.empty()) {
      notes.push_back(absl::StrCat("route ", it->first, ": API weights dropped: ", drop));
      it = overrides->erase(it);
    } else if (rollout) {
      it->second.file_fingerprint = RouteFingerprint(*route);
      notes.push_back(
          absl::StrCat("route ", it->first, ": weights kept: a rollout holds this route"));
      ++it;
    } else {
      notes.push_back(absl::StrCat("route ", it->first,
                                   ": API weights kept (the file has not changed this route)"));
      ++it;
    }
  }
  return notes;
}

Controller::View Controller::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  View view{state_.generation, config_, store_.Current(), {}, {}};
  for (const auto& route : config_.routes) {
    view.weights_source[route.name] = state_.held_routes.count(route.name) > 0 ? "rollout"
                                      : state_.overrides.count(route.name) > 0 ? "api"
                                                                               : "file";
    view.effective_routes.push_back(Effective(route, state_.overrides));
  }
  return view;
}

absl::Status Controller::CommitLocked(PersistedState next,
                                      std::shared_ptr<const routing::RoutingTable> table,
                                      AuditEntry entry, const Fence* fence) {
  if (table != nullptr) next.table_fingerprint = TableFingerprint(*table);
  MarkServedLocked(&next, entry.time);
  if (backend_->shared()) entry.replica = replica_name_;
  RETURN_IF_ERROR(backend_->Commit(&next, &entry, fence));
  state_ = std::move(next);
  if (table != nullptr) store_.Publish(std::move(table));
  return absl::OkStatus();
}

bool Controller::RefreshLocked() {
  absl::StatusOr<std::optional<PersistedState>> loaded = backend_->Load();
  if (!loaded.ok() || !loaded->has_value()) return false;
  return AdoptLocked(**std::move(loaded));
}

bool Controller::AdoptLocked(PersistedState next) {
  if (next.revision <= state_.revision) return false;
  Reconcile(config_, &next.overrides, next.held_routes);
  auto table = Build(config_, next.overrides, next.generation);
  if (!table.ok()) {
    // This replica's file cannot route the shared state; keep serving the last table,
    // but follow the revision so its own writes still compare against the latest.
    log::Error(absl::StrCat("the state at revision ", next.revision, " from ", backend_->where(),
                            " does not fit this replica's config: ", table.status().message()));
  } else {
    store_.Publish(*std::move(table));
  }
  state_ = std::move(next);
  return true;
}

void Controller::Adopt(PersistedState next) {
  std::function<void()> then;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!AdoptLocked(std::move(next))) return;
    then = on_adopt_;
  }
  if (then) then();
}

void Controller::SetFence(std::optional<Fence> fence) {
  std::lock_guard<std::mutex> lock(mu_);
  fence_ = std::move(fence);
}

void Controller::SetReplicaName(std::string name) {
  std::lock_guard<std::mutex> lock(mu_);
  replica_name_ = std::move(name);
}

void Controller::SetOnAdopt(std::function<void()> on_adopt) {
  std::lock_guard<std::mutex> lock(mu_);
  on_adopt_ = std::move(on_adopt);
}

void Controller::WatchBackend() {
  backend_->Watch([this](PersistedState next) { Adopt(std::move(next)); });
}

void Controller::StopWatchingBackend() { backend_->StopWatch(); }

void Controller::SetEngineLeader(bool leads, const std::string& leader) {
  std::lock_guard<std::mutex> lock(mu_);
  leads_engine_ = leads;
  leader_ = leader;
}

bool Controller::leads_engine() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leads_engine_;
}

std::string Controller::Role() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!backend_->shared()) return "";
  return leads_engine_ ? "leader" : "follower";
}

std::string Controller::Leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_;
}

absl::StatusOr<uint64_t> Controller::SetWeights(const std::string& actor, const std::string& route,
                                                const std::map<std::string, double>& weights,
                                                std::optional<uint64_t> expected_generation,
                                                const std::string& reason) {
  return Retrying([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return SetWeightsLocked(actor, route, weights, expected_generation, reason);
  });
}

absl::StatusOr<uint64_t> Controller::SetWeightsLocked(const std::string& actor,
                                                      const std::string& route,
                                                      const std::map<std::string, double>& weights,
                                                      std::optional<uint64_t> expected_generation,
                                                      const std::string& reason) {
  if (expected_generation.has_value() && *expected_generation != state_.generation) {
    return absl::AbortedError(absl::StrCat("expected_generation ", *expected_generation,
                                           " is stale; the current generation is ",
                                           state_.generation));
  }
  if (state_.held_routes.count(route) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("route \"", route,
                     "\" is held by a rollout: its weights move through the rollout engine; "
                     "promote or abort the rollout first (rolloutctl rollout get ",
                     route, ")"));
  }
  const routing::RouteSpec* spec = FindRoute(config_, route);
  if (spec == nullptr) {
    std::vector<std::string> names;
    for (const auto& r : config_.routes) names.push_back(r.name);
    return absl::InvalidArgumentError(absl::StrCat(
        "route: unknown route \"", route, "\" (routes: ", absl::StrJoin(names, ", "), ")"));
  }
  if (weights.empty()) return absl::InvalidArgumentError("weights: give at least one pool=weight");
  std::vector<std::string> pools;
  for (const auto& p : config_.pools) pools.push_back(p.name);
  double total = 0;
  for (const auto& [pool, weight] : weights) {
    if (std::find(pools.begin(), pools.end(), pool) == pools.end()) {
      return absl::InvalidArgumentError(absl::StrCat("weights[", pool, "]: unknown pool \"", pool,
                                                     "\" (pools: ", absl::StrJoin(pools, ", "),
                                                     ")"));
    }
    if (!std::isfinite(weight) || weight < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights[", pool, "]: weight ", weight, " must be a number >= 0"));
    }
    total += weight;
  }
  if (total <= 0) return absl::InvalidArgumentError("weights: all weights are zero");
  std::vector<routing::SplitSpec> split;
  for (const auto& [pool, weight] : weights) split.push_back({pool, weight});
  RETURN_IF_ERROR(CheckNotDeactivatedLocked(split));
  if (reason.empty()) {
    return absl::InvalidArgumentError("reason: required, it goes to the audit log");
  }

  PersistedState next = state_;
  next.generation += 1;
  RouteOverride& o = next.overrides[route];
  o.split = std::move(split);
  o.file_fingerprint = RouteFingerprint(*spec);
  auto table = Build(config_, next.overrides, next.generation);
  if (!table.ok()) return table.status();

  AuditEntry entry{absl::Now(),
                   actor,
                   "SetWeights",
                   route,
                   SplitJson(EffectiveSplit(*spec, state_.overrides)),
                   SplitJson(o.split),
                   reason,
                   next.generation};
  RETURN_IF_ERROR(CommitLocked(std::move(next), *std::move(table), std::move(entry)));
  return state_.generation;
}

absl::StatusOr<Controller::ReloadResult> Controller::Reload(const std::string& actor,
                                                            const std::string& reason) {
  std::lock_guard<std::mutex> one_reload(reload_mu_);
  std::string source;
  {
    std::lock_guard<std::mutex> lock(mu_);
    source = config_.source;  // the same path for the process's life
  }
  // Read outside the lock: a slow disk never holds up the admin API or the rollouts.
  absl::StatusOr<Config> file = LoadConfigFile(source);
  if (!file.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("reload rejected, nothing changed: ", file.status().message()));
  }
  return Retrying(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ReloadLocked(*file, actor, reason); });
}

absl::StatusOr<Controller::ReloadResult> Controller::ReloadLocked(Config file,
                                                                  const std::string& actor,
                                                                  const std::string& reason) {
  ReloadResult result;
  for (const std::string& key : KeysNeedingRestart(config_, file)) {
    result.notes.push_back(absl::StrCat(key, " changed in the file; a restart applies it"));
  }

  PersistedState next = state_;
  for (std::string& note : Reconcile(file, &next.overrides, next.held_routes))
    result.notes.push_back(note);
  next.generation += 1;
  auto table = Build(file, next.overrides, next.generation);
  if (!table.ok()) return table.status();
  // Same effective table as now: nothing to publish, and the generation stays.
  result.changed = TableFingerprint(**table) != state_.table_fingerprint ||
                   next.overrides.size() != state_.overrides.size();
  if (!result.changed) {
    config_ = std::move(file);
    result.generation = state_.generation;
    return result;
  }
  nlohmann::json before = nlohmann::json::object(), after = nlohmann::json::object();
  for (const auto& r : config_.routes)
    before[r.name] = SplitJson(EffectiveSplit(r, state_.overrides));
  for (const auto& r : file.routes) after[r.name] = SplitJson(EffectiveSplit(r, next.overrides));
  AuditEntry entry{absl::Now(),      actor,  "ReloadConfig", "", std::move(before),
                   std::move(after), reason, next.generation};
  RETURN_IF_ERROR(CommitLocked(std::move(next), *std::move(table), std::move(entry)));
  config_ = std::move(file);
  result.generation = state_.generation;
  return result;
}

nlohmann::json Controller::rollouts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.rollouts;
}

absl::StatusOr<uint64_t> Controller::CommitRollout(const std::string& route,
                                                   std::optional<RouteOverride> change, bool hold,
                                                   nlohmann::json rollouts, AuditEntry entry,
                                                   bool by_engine) {
  std::lock_guard<std::mutex> lock(mu_);
  // The engine's own decisions come only from the leader, fenced by its election key; a
  // person's verb may come through any replica.
  const Fence* fence = by_engine && fence_.has_value() ? &*fence_ : nullptr;
  if (by_engine && backend_->shared() && fence == nullptr) {
    return absl::FailedPreconditionError(
        "this replica does not lead the rollout engine; the leader makes its decisions");
  }
  PersistedState next = state_;
  next.rollouts = std::move(rollouts);
  if (hold) {
    next.held_routes.insert(route);
  } else {
    next.held_routes.erase(route);
  }
  std::shared_ptr<const routing::RoutingTable> table;
  nlohmann::json before, after;
  if (change.has_value()) {
    const routing::RouteSpec* spec = FindRoute(config_, route);
    if (spec == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("route \"", route, "\" is no longer in the config file"));
    }
    RETURN_IF_ERROR(CheckNotDeactivatedLocked(change->split));
    before = SplitJson(EffectiveSplit(*spec, state_.overrides));
    change->file_fingerprint = RouteFingerprint(*spec);
    after = SplitJson(change->split);
    next.overrides[route] = *std::move(change);
    auto built = Build(config_, next.overrides, next.generation + 1);
    if (!built.ok()) return built.status();
    if (TableFingerprint(**built) != state_.table_fingerprint) {
      next.generation += 1;
      table = *std::move(built);
    }
  }
  entry.route = route;
  entry.before = std::move(before);
  entry.after = std::move(after);
  entry.generation = next.generation;
  absl::Status committed = CommitLocked(std::move(next), std::move(table), std::move(entry), fence);
  if (IsStoreConflict(committed)) {
    // The engine recomputes from the records now in the store, not its own.
    RefreshLocked();
  }
  RETURN_IF_ERROR(committed);
  return state_.generation;
}

}  // namespace rollout::control
