// UpstreamSet: one worker's connections to every backend endpoint, grouped by pool.
//
// Each worker owns its channels (a local subchannel pool, so no connection is shared with
// another worker) and a GenericStub per endpoint. Endpoints live as long as the worker, so
// a call may keep a raw Endpoint* for its whole life even across a routing-table change.
// Within a pool, endpoints are picked round robin, skipping those whose channel is in
// TRANSIENT_FAILURE while another one is not.
//
// Thread-safety: not thread-safe; owned and used by one worker thread.
#ifndef ROLLOUT_PROXY_UPSTREAM_SET_H_
#define ROLLOUT_PROXY_UPSTREAM_SET_H_

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_set.h"
#include "routing/routing_table.h"

namespace rollout::proxy {

class UpstreamSet final {
 public:
  struct Endpoint {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<grpc::GenericStub> stub;
  };

  UpstreamSet(int worker_index, int64_t max_message_bytes);

  // Maps `table`'s pools (by index) to endpoints, creating channels for new addresses.
  void Sync(const routing::RoutingTable& table);

  // An endpoint of pool `pool` (an index into the synced table's pools()).
  Endpoint* Pick(size_t pool);
  // The pool's name; the pointer stays valid for the worker's life.
  const std::string* PoolName(size_t pool) const { return pools_[pool].name; }

  // Adds address -> usable for every endpoint of this worker (OR-ed into `health`).
  // Callable from any thread.
  void ReportHealth(absl::flat_hash_map<std::string, bool>* health) const;

 private:
  struct Pool {
    const std::string* name;
    std::vector<Endpoint*> endpoints;
    size_t next = 0;
  };

  Endpoint* GetOrCreate(const std::string& address);

  grpc::ChannelArguments channel_args_;
  // Written by the worker (rarely, when a table adds endpoints), read by metric scrapes.
  mutable std::mutex endpoints_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Endpoint>> endpoints_
      ABSL_GUARDED_BY(endpoints_mu_);
  absl::node_hash_set<std::string> names_;
  std::vector<Pool> pools_;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_UPSTREAM_SET_H_
