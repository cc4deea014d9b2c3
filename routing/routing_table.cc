#include "routing/routing_table.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "routing/host_port.h"
#include "routing/sticky_hash.h"

namespace rollout::routing {
namespace {

absl::Status Invalid(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

// gRPC delivers metadata keys in lowercase; a key with capitals would never match.
absl::Status CheckMetadataKey(absl::string_view path, absl::string_view key) {
  if (key.empty()) return Invalid(path, "must not be empty");
  for (char c : key) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' || c == '.')) {
      return Invalid(path, absl::StrCat("\"", key,
                                        "\" is not a valid metadata key (lowercase letters, "
                                        "digits, - _ . only)"));
    }
  }
  return absl::OkStatus();
}

// The pools by name, for the routes' references to them.
class PoolNames {
 public:
  // False if `name` is already known.
  bool Add(const std::string& name, size_t index) {
    if (!index_.emplace(name, index).second) return false;
    names_.push_back(name);
    return true;
  }
  absl::StatusOr<size_t> Find(const std::string& name, absl::string_view path) const {
    auto it = index_.find(name);
    if (it == index_.end()) {
      return Invalid(path, absl::StrCat("unknown pool \"", name,
                                        "\" (known pools: ", absl::StrJoin(names_, ", "), ")"));
    }
    return it->second;
  }

 private:
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<std::string> names_;
};

// A pool's endpoints, health check, outlier detection and limits.
absl::Status CheckPool(const PoolSpec& spec, const std::string& path) {
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
  const HealthCheckSpec& hc = spec.health_check;
  if (hc.enabled && (hc.interval <= absl::ZeroDuration() || hc.timeout <= absl::ZeroDuration() ||
                     hc.healthy_threshold < 1 || hc.unhealthy_threshold < 1)) {
    return Invalid(path + ".health_check",
                   "interval and timeout must be > 0, thresholds at least 1");
  }
  const OutlierSpec& o = spec.outlier;
  if (o.consecutive_failures < 0 || o.base_ejection <= absl::ZeroDuration() ||
      o.max_ejection < o.base_ejection || o.max_ejection_percent < 0 ||
      o.max_ejection_percent > 100) {
    return Invalid(path + ".outlier_detection",
                   "consecutive_failures >= 0, 0 < base_ejection <= max_ejection, "
                   "max_ejection_percent in 0..100");
  }
  if (spec.max_concurrent_calls < 0) {
    return Invalid(path + ".max_concurrent_calls", "must be >= 0 (0: no limit)");
  }
  return absl::OkStatus();
}

// The route's split twice: in the order written (for weighted picks) and in the order of
// the pools list (for sticky buckets; see Route::sticky_split).
absl::StatusOr<std::pair<WeightedSplit, WeightedSplit>> ReadSplit(const RouteSpec& spec,
                                                                  const PoolNames& pools,
                                                                  const std::string& path) {
  std::vector<WeightedSplit::Arm> arms;
  absl::flat_hash_set<size_t> used;
  for (size_t s = 0; s < spec.split.size(); ++s) {
    const std::string spath = absl::StrCat(path, ".split[", s, "].pool");
    absl::StatusOr<size_t> pool = pools.Find(spec.split[s].pool, spath);
    if (!pool.ok()) return pool.status();
    if (!used.insert(*pool).second) {
      return Invalid(spath, absl::StrCat("pool \"", spec.split[s].pool, "\" is listed twice"));
    }
    arms.push_back({*pool, spec.split[s].weight});
  }
  absl::StatusOr<WeightedSplit> split = WeightedSplit::Create(arms);
  if (!split.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".", split.status().message()));
  }
  std::sort(arms.begin(), arms.end(), [](const WeightedSplit::Arm& a, const WeightedSplit::Arm& b) {
    return a.pool < b.pool;
  });
  absl::StatusOr<WeightedSplit> sticky_split = WeightedSplit::Create(arms);
  if (!sticky_split.ok()) return sticky_split.status();
  return std::make_pair(*std::move(split), *std::move(sticky_split));
}

// The match's method forms and metadata conditions, regexes compiled.
absl::StatusOr<std::vector<RoutingTable::MetadataMatcher>> ReadMatch(RouteSpec& spec,
                                                                     const std::string& path) {
  if (!spec.method_prefix.empty() && spec.method_prefix.front() != '/') {
    return Invalid(
        absl::StrCat(path, ".match.method_prefix"),
        absl::StrCat("\"", spec.method_prefix, "\" must start with '/' (e.g. /package.Service/)"));
  }
  if (!spec.method.empty() && spec.method.front() != '/') {
    return Invalid(absl::StrCat(path, ".match.method"),
                   absl::StrCat("\"", spec.method, "\" must look like /package.Service/Method"));
  }
  std::vector<RoutingTable::MetadataMatcher> metadata;
  for (size_t m = 0; m < spec.metadata.size(); ++m) {
    const std::string mpath = absl::StrCat(path, ".match.metadata[", m, "]");
    MetadataMatchSpec& ms = spec.metadata[m];
    if (absl::Status s = CheckMetadataKey(mpath + ".key", ms.key); !s.ok()) return s;
    RoutingTable::MetadataMatcher matcher{ms.key, ms.kind, ms.value, nullptr};
    if (ms.kind == MetadataMatchSpec::Kind::kRegex) {
      auto re = std::make_shared<const RE2>(ms.value, RE2::Quiet);
      if (!re->ok()) {
        return Invalid(mpath + ".regex",
                       absl::StrCat("invalid regex \"", ms.value, "\": ", re->error()));
      }
      matcher.regex = std::move(re);
    }
    metadata.push_back(std::move(matcher));
  }
  return metadata;
}

// The sticky key, the override header and the pools it may name.
absl::StatusOr<std::vector<size_t>> ReadOverrides(const RouteSpec& spec, const PoolNames& pools,
                                                  const std::string& path) {
  if (!spec.sticky_key.empty()) {
    if (absl::Status s = CheckMetadataKey(path + ".sticky_key", spec.sticky_key); !s.ok()) {
      return s;
    }
  }
  if (!spec.override_header.empty()) {
    if (absl::Status s = CheckMetadataKey(path + ".override_header", spec.override_header);
        !s.ok()) {
      return s;
    }
  }
  std::vector<size_t> override_pools;
  for (size_t o = 0; o < spec.override_pools.size(); ++o) {
    absl::StatusOr<size_t> pool =
        pools.Find(spec.override_pools[o], absl::StrCat(path, ".override_pools[", o, "]"));
    if (!pool.ok()) return pool.status();
    override_pools.push_back(*pool);
  }
  if (!override_pools.empty() && spec.override_header.empty()) {
    return Invalid(path + ".override_pools", "needs override_header");
  }
  return override_pools;
}

// The mirror pool's index, -1 for none.
absl::StatusOr<int> ReadMirror(const RouteSpec& spec, const PoolNames& pools,
                               const std::string& path) {
  if (spec.mirror_pool.empty()) return -1;
  absl::StatusOr<size_t> pool = pools.Find(spec.mirror_pool, path + ".mirror.pool");
  if (!pool.ok()) return pool.status();
  if (!(spec.mirror_percent > 0 && spec.mirror_percent <= 100)) {
    return Invalid(path + ".mirror.percent", "must be in (0, 100]");
  }
  if (spec.mirror_max_inflight < 1) return Invalid(path + ".mirror.max_inflight", "must be >= 1");
  if (!(spec.mirror_tolerance >= 0)) return Invalid(path + ".mirror.tolerance", "must be >= 0");
  return static_cast<int>(*pool);
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RoutingTable>> RoutingTable::Create(
    std::vector<PoolSpec> pool_specs, std::vector<RouteSpec> route_specs, uint64_t generation) {
  if (pool_specs.empty()) return Invalid("pools", "at least one pool is required");
  if (route_specs.empty()) return Invalid("routes", "at least one route is required");

  PoolNames names;
  std::vector<Pool> pools;
  for (size_t i = 0; i < pool_specs.size(); ++i) {
    PoolSpec& spec = pool_specs[i];
    const std::string path = absl::StrCat("pools[", i, "]");
    if (spec.name.empty()) return Invalid(absl::StrCat(path, ".name"), "must not be empty");
    if (!names.Add(spec.name, i)) {
      return Invalid(absl::StrCat(path, ".name"),
                     absl::StrCat("duplicate pool name \"", spec.name, "\""));
    }
    if (absl::Status s = CheckPool(spec, path); !s.ok()) return s;
    pools.push_back(Pool{std::move(spec.name), std::move(spec.endpoints), spec.health_check,
                         spec.outlier, spec.max_concurrent_calls, std::move(spec.tls),
                         std::move(spec.definition), std::move(spec.model_name),
                         std::move(spec.model_version)});
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
    auto metadata = ReadMatch(spec, path);
    if (!metadata.ok()) return metadata.status();
    auto splits = ReadSplit(spec, names, path);
    if (!splits.ok()) return splits.status();
    auto override_pools = ReadOverrides(spec, names, path);
    if (!override_pools.ok()) return override_pools.status();
    auto mirror_pool = ReadMirror(spec, names, path);
    if (!mirror_pool.ok()) return mirror_pool.status();
    routes.push_back(
        Route{std::move(spec.name), std::move(spec.method_prefix), std::move(spec.method),
              std::move(spec.model), *std::move(metadata), std::move(spec.sticky_key),
              std::move(spec.override_header), *std::move(override_pools), std::move(splits->first),
              std::move(splits->second), *mirror_pool,
              static_cast<uint32_t>(std::llround(spec.mirror_percent * 1e4)),
              spec.mirror_max_inflight, spec.mirror_tolerance, std::move(spec.definition)});
  }
  return std::shared_ptr<const RoutingTable>(
      new RoutingTable(std::move(pools), std::move(routes), generation));
}

namespace {

enum class Match { kNo, kYes, kNeedsModel };

Match MatchOne(const RoutingTable::Route& route, const CallAttributes& attrs) {
  if (!absl::StartsWith(attrs.method, route.method_prefix)) return Match::kNo;
  if (!route.method.empty() && attrs.method != route.method) return Match::kNo;
  for (const RoutingTable::MetadataMatcher& m : route.metadata) {
    const std::optional<absl::string_view> value =
        attrs.metadata != nullptr ? attrs.metadata->Get(m.key) : std::nullopt;
    if (!value.has_value()) return Match::kNo;
    switch (m.kind) {
      case MetadataMatchSpec::Kind::kEquals:
        if (*value != m.value) return Match::kNo;
        break;
      case MetadataMatchSpec::Kind::kPrefix:
        if (!absl::StartsWith(*value, m.value)) return Match::kNo;
        break;
      case MetadataMatchSpec::Kind::kRegex:
        if (!RE2::FullMatch(re2::StringPiece(value->data(), value->size()), *m.regex)) {
          return Match::kNo;
        }
        break;
    }
  }
  if (!route.model.empty()) {
    if (!attrs.model.has_value()) return Match::kNeedsModel;
    if (*attrs.model != route.model) return Match::kNo;
  }
  return Match::kYes;
}

}  // namespace

int RoutingTable::MatchRoute(const CallAttributes& attrs) const {
  for (size_t i = 0; i < routes_.size(); ++i) {
    switch (MatchOne(routes_[i], attrs)) {
      case Match::kNo:
        continue;
      case Match::kYes:
        return static_cast<int>(i);
      case Match::kNeedsModel:
        return kNeedsModel;
    }
  }
  return -1;
}

absl::StatusOr<RoutingTable::Pick> RoutingTable::Decide(const CallAttributes& attrs,
                                                        uint64_t random) const {
  const int r = MatchRoute(attrs);
  if (r == kNeedsModel) {
    Pick d{};
    d.needs_model = true;
    return d;
  }
  if (r < 0) {
    return absl::UnimplementedError(
        absl::StrCat("rollout-proxy: no route matches method \"", attrs.method, "\"",
                     attrs.model.has_value() && !attrs.model->empty()
                         ? absl::StrCat(" with model \"", *attrs.model, "\"")
                         : ""));
  }
  const Route& route = routes_[r];
  const size_t route_index = static_cast<size_t>(r);
  // The high bits decide the mirror, the low bits (modulo) the weighted pick.
  const bool mirror =
      route.mirror_pool >= 0 && (random >> 40) % WeightedSplit::kResolution < route.mirror_ppm;
  if (!route.override_header.empty() && attrs.metadata != nullptr) {
    if (std::optional<absl::string_view> forced = attrs.metadata->Get(route.override_header)) {
      std::vector<std::string> allowed;
      for (size_t p = 0; p < pools_.size(); ++p) {
        const bool may = route.override_pools.empty() ||
                         std::find(route.override_pools.begin(), route.override_pools.end(), p) !=
                             route.override_pools.end();
        if (!may) continue;
        if (pools_[p].name == *forced) return Pick{route_index, p, Choice::kOverride, mirror};
        allowed.push_back(pools_[p].name);
      }
      return absl::InvalidArgumentError(
          absl::StrCat("rollout-proxy: ", route.override_header, ": pool \"", *forced,
                       "\" cannot be chosen on route ", route.name,
                       " (allowed: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  if (!route.sticky_key.empty() && attrs.metadata != nullptr) {
    if (std::optional<absl::string_view> key = attrs.metadata->Get(route.sticky_key)) {
      const uint32_t bucket = StickyBucket(route.name, *key);
      return Pick{
          route_index,
          route.sticky_split.Pick(uint64_t{bucket} * (WeightedSplit::kResolution / kStickyBuckets)),
          Choice::kSticky, mirror};
    }
  }
  return Pick{route_index, route.split.Pick(random), Choice::kWeighted, mirror};
}

}  // namespace rollout::routing
