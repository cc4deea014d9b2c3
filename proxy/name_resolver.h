// NameResolver: resolves the host names among the routing table's endpoints off the data
// path, with c-ares on a thread of its own, and publishes what they stand for as an
// immutable snapshot that workers read without blocking. A worker never waits on DNS:
// it connects to addresses only.
//
// Each name is looked up (in /etc/hosts, then DNS: A and AAAA) when it first appears in a
// table, then again every refresh_interval, sooner if its records' TTL is shorter (but at
// most once a second). Every address becomes an endpoint of the pool (UpstreamSet::Sync
// expands the configured `host:port` with Expand()). A lookup that fails keeps the last
// addresses, so a DNS outage does not empty a pool, and is tried again within 5 s; a name
// that never resolved has no endpoint, and Expand() says why.
//
//   NameResolver names(&store, spec);
//   names.Start(absl::Seconds(5));  // the first table's names, before traffic
//   std::shared_ptr<const NameResolver::Snapshot> now = names.Current();
//   std::vector<std::string> addresses = NameResolver::Expand(now.get(), "models:9000", &why);
//
// Thread-safety: Current(), version() and Expand() from any thread; Start/Stop from the
// owner.
#ifndef ROLLOUT_PROXY_NAME_RESOLVER_H_
#define ROLLOUT_PROXY_NAME_RESOLVER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "routing/resolver_spec.h"
#include "routing/routing_table_store.h"
#include "routing/tls_spec.h"

namespace rollout::proxy {

class NameResolver final {
 public:
  struct Result {
    std::vector<std::string> addresses;  // "ip:port", sorted; the last good lookup's
    std::string error;                   // why the last lookup failed; empty if it did not
  };
  // By the endpoint as configured ("host:port"); names only, never IP addresses.
  using Snapshot = absl::flat_hash_map<std::string, Result>;

  NameResolver(const routing::RoutingTableStore* tables, routing::ResolverSpec spec);
  ~NameResolver();
  NameResolver(const NameResolver&) = delete;
  NameResolver& operator=(const NameResolver&) = delete;

  // Checks the servers, resolves the current table's names (waiting up to `first_wait`),
  // then keeps resolving on the resolver's thread.
  absl::Status Start(absl::Duration first_wait);
  void Stop();

  std::shared_ptr<const Snapshot> Current() const;
  // Bumped whenever a name's addresses change.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // The addresses `endpoint` stands for: itself when its host is an IP address (or when
  // `snapshot` is null: no resolver), else its resolved addresses; none yet sets *why.
  static std::vector<std::string> Expand(const Snapshot* snapshot, const std::string& endpoint,
                                         std::string* why);

  // One address of a pool, and the TLS settings to reach it with: a pool that reaches a
  // name over TLS without server_name checks the certificate for that name, not for the
  // address it resolved to.
  struct PoolAddress {
    std::string address;
    routing::UpstreamTlsSpec tls;
  };
  // Every address of `endpoints`; the names without one yet are described in *why
  // ("; "-separated).
  static std::vector<PoolAddress> ExpandPool(const Snapshot* snapshot,
                                             const std::vector<std::string>& endpoints,
                                             const routing::UpstreamTlsSpec& tls, std::string* why);

 private:
  struct Entry {
    Result result;
    int64_t next_ns = 0;  // when to look it up again (0: now)
  };
  void Run();
  // One pass: looks up every due name of the current table at once; true if a result
  // changed.
  bool ResolveDue(int64_t now_ns, absl::Duration timeout);
  void Publish();

  const routing::RoutingTableStore* const tables_;
  const routing::ResolverSpec spec_;
  std::string servers_csv_;  // for ares_set_servers_ports_csv; empty: the system's
  absl::flat_hash_map<std::string, Entry> entries_;  // the resolver thread's (and Start's)
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> version_{0};
  std::condition_variable wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_NAME_RESOLVER_H_
