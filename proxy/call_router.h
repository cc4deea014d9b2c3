// CallRouter: one worker's routing of calls to endpoints, whatever the data plane.
//
// It keeps the worker's view of the routing table, its UpstreamSet (connections to every
// endpoint, by pool) and its metric cells, and turns a call's attributes into a Target:
// the pool, an endpoint by P2C least request, the (route, pool) metric cell, and a mirror
// endpoint when the call gets a shadow copy. Both engines (gRPC async and nghttp2) route
// through it, so routing, weights, stickiness, overrides and metrics behave the same.
//
// Thread-safety: owned and used by one worker thread, except upstreams().ReportHealth().
#ifndef ROLLOUT_PROXY_CALL_ROUTER_H_
#define ROLLOUT_PROXY_CALL_ROUTER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "metrics/call_metrics.h"
#include "proxy/upstream_set.h"
#include "routing/routing_table_store.h"
#include "routing/split_mix.h"

namespace rollout::proxy {

class CallRouter final {
 public:
  // Where the router sent a call.
  struct Target {
    UpstreamSet::Pool* pool;  // valid for the worker's life
    // The route's name; valid until this router's next Route() (a new table may come).
    const std::string* route;
    UpstreamSet::Endpoint* endpoint;
    metrics::CallSeries::Cell* stats;  // this worker's cell of (route, pool)
    // Set when this call gets a shadow copy.
    UpstreamSet::Endpoint* mirror_endpoint;
    UpstreamSet::Pool* mirror_pool;
    metrics::CallSeries::Cell* mirror_stats;
    double mirror_tolerance;
  };
  // Whether a shadow copy may start now: `inflight` mirrors run on this worker, and none may
  // start once `closed` (shutting down, or a data plane without mirroring).
  struct MirrorBudget {
    int inflight = 0;
    bool closed = false;
  };

  CallRouter(int worker_index, const routing::RoutingTableStore* store,
             metrics::CallMetrics* call_metrics, EngineShared* shared,
             UpstreamSet::LinkFactory link_factory);

  // Routes a call; UNIMPLEMENTED when no route matches, INVALID_ARGUMENT for a bad override,
  // UNAVAILABLE (naming the pool) when the chosen pool has no usable endpoint. Sets
  // *needs_model (and routes nothing) when the route depends on the first message's model.
  absl::Status Route(const routing::CallAttributes& attrs, int64_t now_ns, MirrorBudget mirrors,
                     Target* target, bool* needs_model);

  // Another usable endpoint of `pool` than `failed` (P2C over the rest), or null: for a call
  // that never reached `failed`.
  UpstreamSet::Endpoint* PickAnother(UpstreamSet::Pool* pool, const UpstreamSet::Endpoint* failed,
                                     int64_t now_ns) {
    return upstreams_.Pick(pool, now_ns, NextRandom(), failed);
  }

  UpstreamSet& upstreams() { return upstreams_; }
  const UpstreamSet& upstreams() const { return upstreams_; }

 private:
  // The newest routing table, synced with this worker's connections and metric cells.
  const routing::RoutingTable& CurrentTable();
  // Adopts a new routing table: connections for new endpoints, metric cells for new pairs.
  void Sync(const routing::RoutingTable& table);
  uint64_t NextRandom() { return routing::SplitMix64Next(rng_state_); }

  const int index_;
  routing::RoutingTableCache table_cache_;
  UpstreamSet upstreams_;
  metrics::CallMetrics* call_metrics_;
  // stats_[route][pool]: the cell for each (route, pool) of the synced table. Every pool
  // gets one, since an override header can send a route's call to any pool.
  std::vector<std::vector<metrics::CallSeries::Cell*>> stats_;
  uint64_t synced_version_;
  uint64_t rng_state_;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_CALL_ROUTER_H_
