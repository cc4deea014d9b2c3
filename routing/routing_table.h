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
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "routing/weighted_split.h"

namespace rollout::routing {

// What the config (or an admin call) says; RoutingTable::Create validates it.
struct PoolSpec {
  std::string name;
  std::vector<std::string> endpoints;  // host:port
};
struct SplitSpec {
  std::string pool;
  double weight = 0;
};
struct RouteSpec {
  std::string name;
  std::string method_prefix;  // empty matches every method
  std::vector<SplitSpec> split;
};

class RoutingTable final {
 public:
  struct Pool {
    std::string name;
    std::vector<std::string> endpoints;
  };
  struct Route {
    std::string name;
    std::string method_prefix;
    WeightedSplit split;
  };
  struct Decision {
    size_t route;  // index into routes()
    size_t pool;   // index into pools()
  };

  // Validates names (non-empty, unique), endpoints, pool references and weights. Error
  // messages start with the field path, e.g. `routes[0].split[1].pool: unknown pool "v3"`.
  static absl::StatusOr<std::shared_ptr<const RoutingTable>> Create(std::vector<PoolSpec> pools,
                                                                    std::vector<RouteSpec> routes,
                                                                    uint64_t generation);

  // Picks the route (first method-prefix match) and a pool by weight. A method no route
  // matches is UNIMPLEMENTED, naming the method.
  absl::StatusOr<Decision> Decide(absl::string_view method, uint64_t random) const;

  // Index of the first route whose prefix matches, or -1.
  int MatchRoute(absl::string_view method) const;

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
