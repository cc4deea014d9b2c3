// UpstreamSet: one worker's connections to every backend endpoint, grouped by pool, and the
// choice of an endpoint within a pool.
//
// Each worker owns its connections (a Link per endpoint, made by the engine's LinkFactory,
// so no connection is shared with another worker). Within a pool it picks by least request
// with the power of two choices: two random usable endpoints, the one with fewer calls in
// flight from this worker wins (a connection that is failing counts as very busy). Usable
// means healthy by the active checks and not ejected (EndpointState). A pool with no
// usable endpoint gives nullptr: the caller fails the call, and never spills it into
// another pool.
//
// Endpoints and pool records live as long as the worker, so a call may keep raw pointers to
// them across a routing-table change.
//
// Thread-safety: owned and used by one worker thread, except ReportHealth().
#ifndef ROLLOUT_PROXY_UPSTREAM_SET_H_
#define ROLLOUT_PROXY_UPSTREAM_SET_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_set.h"
#include "proxy/engine_shared.h"
#include "routing/routing_table.h"

namespace rollout::proxy {

class UpstreamSet final {
 public:
  // The data plane's connection to one endpoint.
  class Link {
   public:
    virtual ~Link() = default;
    // True while the connection cannot carry calls (connect failed, backing off).
    // Callable from any thread.
    virtual bool failing() const = 0;
  };
  // Makes the Link for an endpoint address, reached with its pool's TLS settings.
  using LinkFactory = std::function<std::unique_ptr<Link>(const std::string& address,
                                                          const routing::UpstreamTlsSpec& tls)>;

  struct Endpoint {
    std::string address;
    std::unique_ptr<Link> link;
    EndpointState* state;  // shared with the other workers
    int outstanding = 0;   // this worker's calls in flight to it
  };
  struct Pool {
    const std::string* name;
    std::vector<Endpoint*> endpoints;
    std::vector<EndpointState*> states;  // same order, for the ejection budget
    routing::OutlierSpec outlier;
    ConcurrencyLimit* limit;  // shared by every worker, by pool name
    std::string unresolved;   // endpoint names without an address yet, and why
    // The model fields appended to each request message that names a model (the pool's
    // model_name / model_version, pre-encoded; see h2/model_rewriter.h); "" for none.
    std::string model_fields;
  };

  UpstreamSet(EngineShared* shared, LinkFactory link_factory);

  // Maps `table`'s pools (by index) to endpoints, creating channels for new addresses. A
  // host name stands for every address it resolved to (EngineShared::names).
  void Sync(const routing::RoutingTable& table);
  // Whether names resolved differently since the last Sync(): sync again.
  bool NamesChanged() const {
    return shared_->names != nullptr && shared_->names->version() != names_version_;
  }

  // The pool record for pool index `pool` of the synced table; valid for the worker's life.
  Pool* pool(size_t pool) { return pools_[pool]; }

  // An endpoint of `pool` by P2C least request, or nullptr if none is usable.
  Endpoint* Pick(Pool* pool, int64_t now_ns, uint64_t random, const Endpoint* exclude = nullptr);

  // Why `pool` has no usable endpoint, for the error message.
  static std::string DescribeUnusable(const Pool& pool, int64_t now_ns);

  // Adds address -> usable for every endpoint of this worker (OR-ed into `health`).
  // Callable from any thread.
  void ReportHealth(absl::flat_hash_map<std::string, bool>* health, int64_t now_ns) const;

 private:
  Endpoint* GetOrCreate(const std::string& address, const routing::UpstreamTlsSpec& tls);
  // True while `e`'s connection cannot carry calls.
  static bool Failing(const Endpoint& e);

  LinkFactory link_factory_;
  EngineShared* shared_;
  // Written by the worker (rarely, when a table adds endpoints), read by metric scrapes.
  mutable std::mutex endpoints_mu_;
  // By address, plus the TLS settings for a TLS pool.
  absl::flat_hash_map<std::string, std::unique_ptr<Endpoint>> endpoints_
      ABSL_GUARDED_BY(endpoints_mu_);
  absl::node_hash_set<std::string> names_;  // pool names
  uint64_t names_version_ = 0;
  // One record per pool name for the worker's life, updated in place by Sync(), so that a
  // call's Pool* stays valid (and sees the current endpoints) however often names change.
  absl::flat_hash_map<std::string, std::unique_ptr<Pool>> pools_by_name_;
  std::vector<Pool*> pools_;  // by the synced table's pool index
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_UPSTREAM_SET_H_
