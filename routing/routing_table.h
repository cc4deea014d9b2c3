// RoutingTable: an immutable snapshot of pools and routes, and the routing decision for a call.
//
// A table is validated whole when it is built and never changes afterwards; a change
// (reload, admin call, rollout step) builds a new table and publishes it through
// RoutingTableStore. Workers hold a shared_ptr to the snapshot they route with.
//
//   auto table = RoutingTable::Create(pools, routes, /*generation=*/1);
//   auto decision = (*table)->Decide("/inference.GRPCInferenceService/ModelInfer", rng());
//   if (decision.ok()) Forward(decision->route, decision->pool);
//
// Thread-safety: immutable; every const method may be called from any thread.
#ifndef ROLLOUT_ROUTING_ROUTING_TABLE_H_
#define ROLLOUT_ROUTING_ROUTING_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "re2/re2.h"
#include "routing/tls_spec.h"
#include "routing/weighted_split.h"

namespace rollout::routing {

// Active grpc.health.v1 checks of a pool's endpoints.
struct HealthCheckSpec {
  bool enabled = false;
  absl::Duration interval = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(1);
  int healthy_threshold = 2;    // passed checks in a row to become healthy again
  int unhealthy_threshold = 3;  // failed checks in a row to become unhealthy
  std::string service;          // HealthCheckRequest.service; empty: the whole server
};
// Passive outlier ejection: calls that end UNAVAILABLE eject an endpoint for a while.
struct OutlierSpec {
  int consecutive_failures = 5;  // 0 turns ejection off
  absl::Duration base_ejection = absl::Seconds(10);
  absl::Duration max_ejection = absl::Seconds(300);
  int max_ejection_percent = 50;  // never eject more of a pool than this
};

// What the config (or an admin call) says; RoutingTable::Create validates it.
struct PoolSpec {
  std::string name;
  std::vector<std::string> endpoints;  // host:port
  HealthCheckSpec health_check;
  OutlierSpec outlier;
  // Calls in flight to the pool, over all workers; the excess gets RESOURCE_EXHAUSTED at
  // once. 0: no limit.
  int64_t max_concurrent_calls = 0;
  UpstreamTlsSpec tls;  // TLS to the pool's backends; off by default
  // The model this pool's backends serve, for several versions on one server: when set,
  // the proxy rewrites ModelInferRequest.model_name / .model_version of each call it sends
  // here. Empty: left as the client sent it.
  std::string model_name;
  std::string model_version;
  // The config file's entry for the pool as canonical YAML (no comments or layout), set
  // by the loader; the controller's fingerprints use it, so every key is in them.
  std::string definition;
};
struct SplitSpec {
  std::string pool;
  double weight = 0;
};
struct MetadataMatchSpec {
  enum class Kind { kEquals, kPrefix, kRegex };
  std::string key;  // lowercase, as gRPC delivers metadata keys
  Kind kind = Kind::kEquals;
  std::string value;  // for kRegex: an RE2 pattern that must match the whole value
};
struct RouteSpec {
  std::string name;
  // Match conditions; all that are set must hold.
  std::string method_prefix;  // empty matches every method
  std::string method;         // exact method, e.g. /inference.GRPCInferenceService/ModelInfer
  std::string model;          // ModelInferRequest.model_name of the first message
  std::vector<MetadataMatchSpec> metadata;
  // Pool choice: override header, then sticky key, then weighted random.
  std::string sticky_key;
  std::string override_header;
  std::vector<std::string> override_pools;  // empty: any pool may be forced
  std::vector<SplitSpec> split;
  // Shadow traffic: a copy of `percent` of the calls also goes to `mirror_pool`, whose
  // answers are compared with the primary's and never returned.
  std::string mirror_pool;  // empty: no mirror
  double mirror_percent = 0;
  int mirror_max_inflight = 100;   // per route and worker; the excess is dropped
  double mirror_tolerance = 1e-5;  // max |difference| of numeric outputs that still matches
  std::string definition;          // the file's entry, as for PoolSpec::definition
};

// Read access to a call's request metadata.
class MetadataView {
 public:
  virtual ~MetadataView() = default;
  // The first value of `key`, if present.
  virtual std::optional<absl::string_view> Get(absl::string_view key) const = 0;
};

// What routing may look at. `model` is unset until the first message has been read; see
// Pick::needs_model.
struct CallAttributes {
  absl::string_view method;
  const MetadataView* metadata = nullptr;  // null: no metadata
  std::optional<absl::string_view> model;
};

class RoutingTable final {
 public:
  struct Pool {
    std::string name;
    std::vector<std::string> endpoints;
    HealthCheckSpec health_check;
    OutlierSpec outlier;
    int64_t max_concurrent_calls = 0;  // 0: no limit
    UpstreamTlsSpec tls;
    std::string definition;     // PoolSpec::definition
    std::string model_name;     // PoolSpec::model_name
    std::string model_version;  // PoolSpec::model_version
  };
  struct MetadataMatcher {
    std::string key;
    MetadataMatchSpec::Kind kind;
    std::string value;
    std::shared_ptr<const RE2> regex;  // compiled when the table is built
  };
  struct Route {
    std::string name;
    std::string method_prefix;
    std::string method;
    std::string model;  // empty: any
    std::vector<MetadataMatcher> metadata;
    std::string sticky_key;
    std::string override_header;
    std::vector<size_t> override_pools;  // empty: any pool
    WeightedSplit split;
    // The same weights laid out in the order of the pools list, which weight changes never
    // reorder. When one pool grows and the others shrink or stay, no bucket leaves the
    // growing pool; with two pools (stable and candidate) buckets move only from the
    // shrinking one to the growing one. With three or more, an unchanged pool can still
    // lose buckets when pools on both sides of it change (1:1:1 to 2:1:0 moves users of
    // the middle pool): no split computed from the weights alone avoids that, as it would
    // need the previous layout.
    WeightedSplit sticky_split;
    int mirror_pool = -1;  // -1: no mirror
    uint32_t mirror_ppm = 0;
    int mirror_max_inflight = 0;
    double mirror_tolerance = 0;
    std::string definition;  // RouteSpec::definition
  };
  enum class Choice { kWeighted, kSticky, kOverride };
  // What the table picked for one call.
  struct Pick {
    size_t route;  // index into routes()
    size_t pool;   // index into pools()
    Choice choice;
    bool mirror = false;  // send a shadow copy to routes()[route].mirror_pool
    // Set (and nothing else) when attrs.model was unset and a route that matches on model
    // comes first: read the first message, set attrs.model, and decide again.
    bool needs_model = false;
  };

  // Validates names (non-empty, unique), endpoints, pool references and weights. Error
  // messages start with the field path, e.g. `routes[0].split[1].pool: unknown pool "v3"`.
  static absl::StatusOr<std::shared_ptr<const RoutingTable>> Create(std::vector<PoolSpec> pools,
                                                                    std::vector<RouteSpec> routes,
                                                                    uint64_t generation);

  // Picks the route (the first whose conditions all hold) and its pool: the override
  // header's pool if the call names one, else the sticky bucket's pool if the call carries
  // the sticky key, else one by weight from `random`. No matching route is UNIMPLEMENTED,
  // naming the method; an override naming a pool it may not use is INVALID_ARGUMENT.
  // With attrs.model unset, a call whose route depends on the model gets a Pick with
  // needs_model set instead.
  absl::StatusOr<Pick> Decide(const CallAttributes& attrs, uint64_t random) const;
  absl::StatusOr<Pick> Decide(absl::string_view method, uint64_t random) const {
    return Decide(CallAttributes{method}, random);
  }

  // Index of the first route that matches, -1 if none, or kNeedsModel if attrs.model is
  // unset and a route that matches on model comes first.
  static constexpr int kNeedsModel = -2;
  int MatchRoute(const CallAttributes& attrs) const;
  int MatchRoute(absl::string_view method) const { return MatchRoute(CallAttributes{method}); }

  const std::vector<Pool>& pools() const { return pools_; }
  const std::vector<Route>& routes() const { return routes_; }
  uint64_t generation() const { return generation_; }

 private:
  RoutingTable(std::vector<Pool> pools, std::vector<Route> routes, uint64_t generation)
      : pools_(std::move(pools)), routes_(std::move(routes)), generation_(generation) {}

  std::vector<Pool> pools_;
  std::vector<Route> routes_;
  uint64_t generation_;
};

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_ROUTING_TABLE_H_
