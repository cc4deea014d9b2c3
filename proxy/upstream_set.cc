#include "proxy/upstream_set.h"

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

namespace rollout::proxy {

UpstreamSet::UpstreamSet(int worker_index, int64_t max_message_bytes) {
  // The proxy owns retry policy; the library must not replay calls on its own.
  channel_args_.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // A private subchannel pool gives this worker its own connections.
  channel_args_.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  channel_args_.SetInt("rollout.worker", worker_index);
  // Backends are addressed directly; an http_proxy in the environment must not apply.
  channel_args_.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  const int limit = max_message_bytes < 0 ? -1 : static_cast<int>(max_message_bytes);
  channel_args_.SetMaxReceiveMessageSize(limit);
  channel_args_.SetMaxSendMessageSize(limit);
}

UpstreamSet::Endpoint* UpstreamSet::GetOrCreate(const std::string& address) {
  std::lock_guard<std::mutex> lock(endpoints_mu_);
  auto it = endpoints_.find(address);
  if (it != endpoints_.end()) return it->second.get();
  auto endpoint = std::make_unique<Endpoint>();
  endpoint->address = address;
  endpoint->channel =
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), channel_args_);
  endpoint->channel->GetState(/*try_to_connect=*/true);  // connect before the first call
  endpoint->stub = std::make_unique<grpc::GenericStub>(endpoint->channel);
  Endpoint* raw = endpoint.get();
  endpoints_.emplace(address, std::move(endpoint));
  return raw;
}

void UpstreamSet::Sync(const routing::RoutingTable& table) {
  std::vector<Pool> pools;
  pools.reserve(table.pools().size());
  for (const routing::RoutingTable::Pool& spec : table.pools()) {
    Pool pool;
    pool.name = &*names_.insert(spec.name).first;
    for (const std::string& address : spec.endpoints) {
      pool.endpoints.push_back(GetOrCreate(address));
    }
    pools.push_back(std::move(pool));
  }
  pools_ = std::move(pools);
}

UpstreamSet::Endpoint* UpstreamSet::Pick(size_t pool_index) {
  Pool& pool = pools_[pool_index];
  const size_t n = pool.endpoints.size();
  if (n == 1) return pool.endpoints[0];
  for (size_t tries = 0; tries < n; ++tries) {
    Endpoint* e = pool.endpoints[pool.next++ % n];
    if (e->channel->GetState(false) != GRPC_CHANNEL_TRANSIENT_FAILURE) return e;
  }
  return pool.endpoints[pool.next++ % n];
}

}  // namespace rollout::proxy

namespace rollout::proxy {

void UpstreamSet::ReportHealth(absl::flat_hash_map<std::string, bool>* health) const {
  std::lock_guard<std::mutex> lock(endpoints_mu_);
  for (const auto& [address, endpoint] : endpoints_) {
    const grpc_connectivity_state state = endpoint->channel->GetState(false);
    (*health)[address] |= state != GRPC_CHANNEL_TRANSIENT_FAILURE && state != GRPC_CHANNEL_SHUTDOWN;
  }
}

}  // namespace rollout::proxy
