#include "proxy/upstream_set.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "proxy/model_fields.h"

namespace rollout::proxy {

UpstreamSet::UpstreamSet(EngineShared* shared, LinkFactory link_factory)
    : link_factory_(std::move(link_factory)), shared_(shared) {}

UpstreamSet::Endpoint* UpstreamSet::GetOrCreate(const std::string& address,
                                                const routing::UpstreamTlsSpec& tls) {
  // One connection per address and TLS setting: two pools that reach the same address
  // differently (or a reload that changes a pool's TLS) get their own connections.
  const std::string key = tls.enabled
                              ? absl::StrCat(address, "|tls|", tls.ca_file, "|", tls.cert_file, "|",
                                             tls.key_file, "|", tls.server_name)
                              : address;
  std::lock_guard<std::mutex> lock(endpoints_mu_);
  auto it = endpoints_.find(key);
  if (it != endpoints_.end()) return it->second.get();
  auto endpoint = std::make_unique<Endpoint>();
  endpoint->address = address;
  endpoint->link = link_factory_(address, tls);
  endpoint->state = shared_->endpoints.Get(address);
  Endpoint* raw = endpoint.get();
  endpoints_.emplace(key, std::move(endpoint));
  return raw;
}

void UpstreamSet::Sync(const routing::RoutingTable& table) {
  std::shared_ptr<const NameResolver::Snapshot> resolved;
  if (shared_->names != nullptr) {
    names_version_ = shared_->names->version();  // before the snapshot: a newer one resyncs
    resolved = shared_->names->Current();
  }
  pools_.clear();
  for (const routing::RoutingTable::Pool& spec : table.pools()) {
    std::unique_ptr<Pool>& slot = pools_by_name_[spec.name];
    if (slot == nullptr) {
      slot = std::make_unique<Pool>();
      slot->name = &*names_.insert(spec.name).first;
    }
    Pool* pool = slot.get();
    pool->outlier = spec.outlier;
    pool->limit = shared_->pool_limits.Get(spec.name);
    pool->limit->set_max(spec.max_concurrent_calls);
    pool->model_fields = EncodeModelFields(spec.model_name, spec.model_version);
    pool->endpoints.clear();
    pool->states.clear();
    pool->unresolved.clear();
    for (const NameResolver::PoolAddress& a :
         NameResolver::ExpandPool(resolved.get(), spec.endpoints, spec.tls, &pool->unresolved)) {
      Endpoint* e = GetOrCreate(a.address, a.tls);
      pool->endpoints.push_back(e);
      pool->states.push_back(e->state);
    }
    pools_.push_back(pool);
  }
}

UpstreamSet::Endpoint* UpstreamSet::Pick(Pool* pool, int64_t now_ns, uint64_t random,
                                         const Endpoint* exclude) {
  const size_t n = pool->endpoints.size();
  if (n == 1) {
    Endpoint* only = pool->endpoints[0];
    return only != exclude && only->state->Usable(now_ns) ? only : nullptr;
  }
  std::array<Endpoint*, 64> usable;
  size_t k = 0;
  for (Endpoint* e : pool->endpoints) {
    if (k < usable.size() && e != exclude && e->state->Usable(now_ns)) usable[k++] = e;
  }
  if (k == 0) return nullptr;
  if (k == 1) return usable[0];
  Endpoint* a = usable[random % k];
  Endpoint* b = usable[(random % k + 1 + (random >> 32) % (k - 1)) % k];
  auto load = [](Endpoint* e) { return e->outstanding + (Failing(*e) ? (1 << 20) : 0); };
  return load(a) <= load(b) ? a : b;
}

bool UpstreamSet::Failing(const Endpoint& e) { return e.link->failing(); }

std::string UpstreamSet::DescribeUnusable(const Pool& pool, int64_t now_ns) {
  int unhealthy = 0, ejected = 0;
  for (const Endpoint* e : pool.endpoints) {
    unhealthy += !e->state->healthy();
    ejected += e->state->healthy() && e->state->ejected(now_ns);
  }
  return absl::StrCat("rollout-proxy: pool \"", *pool.name, "\" has no usable endpoint (",
                      pool.endpoints.size(), " endpoint(s): ", unhealthy,
                      " failing health checks, ", ejected, " ejected after failures",
                      pool.unresolved.empty() ? "" : "; ", pool.unresolved, ")");
}

void UpstreamSet::ReportHealth(absl::flat_hash_map<std::string, bool>* health,
                               int64_t now_ns) const {
  std::lock_guard<std::mutex> lock(endpoints_mu_);
  for (const auto& [key, endpoint] : endpoints_) {
    (*health)[endpoint->address] |= endpoint->state->Usable(now_ns) && !endpoint->link->failing();
  }
}

}  // namespace rollout::proxy
