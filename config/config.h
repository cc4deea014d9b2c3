// Config: the proxy's configuration file, parsed and validated (see config_loader.h).
//
// The YAML keys are the product's contract, documented in the README's Config section. An
// unknown key is refused by the loader, never silently ignored.
#ifndef ROLLOUT_CONFIG_CONFIG_H_
#define ROLLOUT_CONFIG_CONFIG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "base/log.h"
#include "config/prometheus_spec.h"
#include "config/rollout_spec.h"
#include "routing/access_log_spec.h"
#include "routing/connection_limits.h"
#include "routing/resolver_spec.h"
#include "routing/routing_table.h"
#include "routing/tls_spec.h"

namespace rollout::control {

struct AdminConfig {
  std::string listen = "127.0.0.1:8501";      // loopback unless the file says otherwise
  std::string token_file;                     // required; relative to the config file
  std::optional<routing::ServerTlsSpec> tls;  // admin.tls: TLS or mTLS on the admin API
};

// Where rollout analysis reads its windows.
struct AnalysisConfig {
  std::string source = "in_process";  // in_process | prometheus
  PrometheusSourceConfig prometheus;  // when source is prometheus
};

// state_store.etcd: desired state, leadership and traffic windows in an etcd v3 cluster
// shared by every replica.
struct EtcdStoreConfig {
  std::vector<std::string> endpoints;           // host:port of each member
  std::string prefix;                           // every key of this deployment is under it
  absl::Duration lease_ttl = absl::Seconds(5);  // leadership and replica liveness
  routing::UpstreamTlsSpec tls;                 // tls: { ca_file, cert_file, key_file }

  bool operator==(const EtcdStoreConfig& o) const {
    return endpoints == o.endpoints && prefix == o.prefix && lease_ttl == o.lease_ttl &&
           tls == o.tls;
  }
};

struct Config {
  std::string source;  // the file it came from, for messages
  std::string listen;  // data plane host:port (port 0 picks a free port)
  int workers = 0;     // 0: one per core
  absl::Duration drain_timeout = absl::Seconds(10);
  // SIGTERM: how long health reports NOT_SERVING, with calls still accepted, before the
  // listener closes; gives load balancers (and Kubernetes endpoints) time to stop sending.
  absl::Duration drain_delay = absl::ZeroDuration();
  // After each loop turn a worker polls its sockets without sleeping for this long before
  // it blocks in epoll_wait: fewer sleeps and wakeups per call, for a core's worth of CPU
  // while busy. 0 (the default): never (bench/RESULTS-loop-options.md measures it).
  absl::Duration busy_poll = absl::ZeroDuration();
  log::Format log_format = log::Format::kText;  // log_format: text | json
  log::Level log_level = log::Level::kInfo;     // log_level: debug | info | warn | error
  bool watch_config = false;       // reload when the file's content changes (a ConfigMap update)
  int64_t max_message_bytes = -1;  // -1: unlimited
  // Calls in flight on the data listener; the excess gets RESOURCE_EXHAUSTED. 0: no limit.
  int64_t max_concurrent_calls = 0;
  std::optional<routing::ServerTlsSpec> tls;  // TLS (or mTLS) on the data listener
  routing::ConnectionLimits connections;      // bounds on client connections
  routing::ResolverSpec resolver;             // how endpoint host names are resolved
  std::optional<AdminConfig> admin;
  std::optional<std::string> metrics_listen;         // metrics.listen: Prometheus /metrics
  std::optional<routing::AccessLogSpec> access_log;  // one line per call, to a file
  std::optional<std::string> dashboard_listen;       // dashboard.listen: the web page; needs admin
  std::string state_dir;                // empty: nothing persists; relative to the config file
  std::optional<EtcdStoreConfig> etcd;  // state_store.etcd; instead of state_dir
  std::vector<routing::PoolSpec> pools;
  std::vector<routing::RouteSpec> routes;
  AnalysisConfig analysis;
  std::vector<std::string> webhooks;  // notifications.webhooks: POSTed on phase changes
  std::vector<RolloutSpec> rollouts;  // declared rollouts, started once each
  std::vector<std::string> keys;      // the top-level keys the file sets (config_keys.h order)
  // Built from pools/routes by the loader, so a loaded Config always routes.
  std::shared_ptr<const routing::RoutingTable> table;
};

}  // namespace rollout::control

#endif  // ROLLOUT_CONFIG_CONFIG_H_
