#include "routing/routing_table.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "routing/host_port.h"

namespace rollout::routing {
namespace {

absl::Status Invalid(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RoutingTable>> RoutingTable::Create(
    std::vector<PoolSpec> pool_specs, std::vector<RouteSpec> route_specs, uint64_t generation) {
  if (pool_specs.empty()) return Invalid("pools", "at least one pool is required");
  if (route_specs.empty()) return Invalid("routes", "at least one route is required");

  absl::flat_hash_map<std::string, size_t> pool_index;
  std::vector<std::string> pool_names;
  std::vector<Pool> pools;
  for (size_t i = 0; i < pool_specs.size(); ++i) {
    PoolSpec& spec = pool_specs[i];
    const std::string path = absl::StrCat("pools[", i, "]");
    if (spec.name.empty()) return Invalid(absl::StrCat(path, ".name"), "must not be empty");
    if (!pool_index.emplace(spec.name, i).second) {
      return Invalid(absl::StrCat(path, ".name"),
                     absl::StrCat("duplicate pool name \"", spec.name, "\""));
    }
    if (spec.endpoints.empty()) {
      return Invalid(absl::StrCat(path, ".endpoints"), "a pool needs at least one endpoint");
    }
    absl::flat_hash_set<std::string> seen;
    for (size_t e = 0; e < spec.endpoints.size(); ++e) {
      const std::string epath = absl::StrCat(path, ".endpoints[", e, "]");
      if (absl::Status s = ValidateHostPort(spec.endpoints[e], PortZero::kReject); !s.ok()) {
        return Invalid(epath, s.message());
      }
      if (!seen.insert(spec.endpoints[e]).second) {
        return Invalid(epath, absl::StrCat("duplicate endpoint \"", spec.endpoints[e], "\""));
      }
    }
    pool_names.push_back(spec.name);
    pools.push_back(Pool{std::move(spec.name), std::move(spec.endpoints)});
  }

  absl::flat_hash_set<std::string> route_names;
  std::vector<Route> routes;
  for (size_t r = 0; r < route_specs.size(); ++r) {
    RouteSpec& spec = route_specs[r];
    const std::string path = absl::StrCat("routes[", r, "]");
    if (spec.name.empty()) return Invalid(absl::StrCat(path, ".name"), "must not be empty");
    if (!route_names.insert(spec.name).second) {
      return Invalid(absl::StrCat(path, ".name"),
                     absl::StrCat("duplicate route name \"", spec.name, "\""));
    }
    if (!spec.method_prefix.empty() && spec.method_prefix.front() != '/') {
      return Invalid(absl::StrCat(path, ".match.method_prefix"),
                     absl::StrCat("\"", spec.method_prefix,
                                  "\" must start with '/' (e.g. /package.Service/)"));
    }
    std::vector<WeightedSplit::Arm> arms;
    absl::flat_hash_set<size_t> used;
    for (size_t s = 0; s < spec.split.size(); ++s) {
      auto it = pool_index.find(spec.split[s].pool);
      if (it == pool_index.end()) {
        return Invalid(absl::StrCat(path, ".split[", s, "].pool"),
                       absl::StrCat("unknown pool \"", spec.split[s].pool,
                                    "\" (known pools: ", absl::StrJoin(pool_names, ", "), ")"));
      }
      if (!used.insert(it->second).second) {
        return Invalid(absl::StrCat(path, ".split[", s, "].pool"),
                       absl::StrCat("pool \"", spec.split[s].pool, "\" is listed twice"));
      }
      arms.push_back({it->second, spec.split[s].weight});
    }
    absl::StatusOr<WeightedSplit> split = WeightedSplit::Create(arms);
    if (!split.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".", split.status().message()));
    }
    routes.push_back(Route{std::move(spec.name), std::move(spec.method_prefix), *std::move(split)});
  }
  return std::shared_ptr<const RoutingTable>(
      new RoutingTable(std::move(pools), std::move(routes), generation));
}

int RoutingTable::MatchRoute(absl::string_view method) const {
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (absl::StartsWith(method, routes_[i].method_prefix)) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<RoutingTable::Decision> RoutingTable::Decide(absl::string_view method,
                                                            uint64_t random) const {
  const int route = MatchRoute(method);
  if (route < 0) {
    return absl::UnimplementedError(
        absl::StrCat("rollout-proxy: no route matches method \"", method, "\""));
  }
  return Decision{static_cast<size_t>(route), routes_[route].split.Pick(random)};
}

}  // namespace rollout::routing
