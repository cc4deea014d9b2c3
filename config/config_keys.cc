#include "config/config_keys.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "config/section_readers.h"
#include "config/yaml_reader.h"

namespace rollout::control {
namespace {

using Node = YAML::Node;

// A key whose value is one of a few names, e.g. log_format.
template <typename E>
absl::Status ReadNamed(const Reader& in, const Node& node, const char* key,
                       std::optional<E> (*named)(absl::string_view), const char* allowed, E* out) {
  std::string name;
  ASSIGN_OR_RETURN(name, in.String(node, key));
  const std::optional<E> value = named(name);
  if (!value) return in.Error(node, key, absl::StrCat("must be ", allowed));
  *out = *value;
  return absl::OkStatus();
}

absl::Status ReadLogFormat(const Reader& in, const Node& node, Config* c) {
  return ReadNamed(in, node, "log_format", log::FormatNamed, "text or json", &c->log_format);
}

absl::Status ReadLogLevel(const Reader& in, const Node& node, Config* c) {
  return ReadNamed(in, node, "log_level", log::LevelNamed, "debug, info, warn or error",
                   &c->log_level);
}

absl::Status ReadMetrics(const Reader& in, const Node& node, Config* c) {
  RETURN_IF_ERROR(in.CheckKeys(node, "metrics", {"listen"}));
  if (!node["listen"]) return in.Error(node, "metrics", "missing required key \"listen\"");
  ASSIGN_OR_RETURN(c->metrics_listen,
                   in.Address(node["listen"], "metrics.listen", routing::PortZero::kAllow));
  return absl::OkStatus();
}

absl::Status ReadDashboard(const Reader& in, const Node& node, Config* c) {
  RETURN_IF_ERROR(in.CheckKeys(node, "dashboard", {"listen"}));
  if (!node["listen"]) return in.Error(node, "dashboard", "missing required key \"listen\"");
  ASSIGN_OR_RETURN(c->dashboard_listen,
                   in.Address(node["listen"], "dashboard.listen", routing::PortZero::kAllow));
  if (!c->admin.has_value()) {
    return in.Error(node, "dashboard",
                    "needs the admin section: the page asks for an admin.token_file token");
  }
  return absl::OkStatus();
}

absl::Status ReadShare(const Reader& in, const Node& node, const char* path, double* out) {
  ASSIGN_OR_RETURN(*out, in.Number(node, path));
  if (!(*out >= 0 && *out <= 1)) {
    return in.Error(node, path, "must be a share between 0 and 1 (0.01: one call in 100)");
  }
  return absl::OkStatus();
}

absl::Status ReadAccessLog(const Reader& in, const Node& node, Config* c) {
  RETURN_IF_ERROR(in.CheckKeys(node, "access_log", {"path", "sample", "sample_errors", "format"}));
  routing::AccessLogSpec spec;
  if (!node["path"]) {
    return in.Error(node, "access_log.path", "required: the file the lines are appended to");
  }
  ASSIGN_OR_RETURN(spec.path, in.String(node["path"], "access_log.path"));
  if (spec.path.empty()) return in.Error(node["path"], "access_log.path", "must not be empty");
  if (node["sample"])
    RETURN_IF_ERROR(ReadShare(in, node["sample"], "access_log.sample", &spec.sample));
  if (node["sample_errors"]) {
    RETURN_IF_ERROR(
        ReadShare(in, node["sample_errors"], "access_log.sample_errors", &spec.sample_errors));
  }
  if (node["format"]) {
    std::string format;
    ASSIGN_OR_RETURN(format, in.String(node["format"], "access_log.format"));
    if (format == "json") {
      spec.format = routing::AccessLogSpec::Format::kJson;
    } else if (format == "text") {
      spec.format = routing::AccessLogSpec::Format::kText;
    } else {
      return in.Error(node["format"], "access_log.format", "must be json or text");
    }
  }
  c->access_log = std::move(spec);
  return absl::OkStatus();
}

absl::Status ReadAdmin(const Reader& in, const Node& node, Config* c) {
  RETURN_IF_ERROR(in.CheckKeys(node, "admin", {"listen", "token_file", "tls"}));
  AdminConfig a;
  if (node["listen"]) {
    ASSIGN_OR_RETURN(a.listen,
                     in.Address(node["listen"], "admin.listen", routing::PortZero::kAllow));
  }
  if (!node["token_file"]) {
    return in.Error(node, "admin.token_file",
                    "required: the admin API refuses calls without a valid token");
  }
  ASSIGN_OR_RETURN(a.token_file, in.String(node["token_file"], "admin.token_file"));
  if (node["tls"]) ASSIGN_OR_RETURN(a.tls, ReadServerTls(in, node["tls"], "admin.tls"));
  c->admin = std::move(a);
  return absl::OkStatus();
}

absl::Status ReadPools(const Reader& in, const Node& node, Config* c) {
  if (!node.IsSequence()) return in.Error(node, "pools", "must be a list of pools");
  for (size_t i = 0; i < node.size(); ++i) {
    routing::PoolSpec pool;
    ASSIGN_OR_RETURN(pool, ReadPool(in, node[i], absl::StrCat("pools[", i, "]")));
    c->pools.push_back(std::move(pool));
  }
  return absl::OkStatus();
}

// Also builds the routing table: the semantic checks (names, references, weights) live
// with it, so admin calls that build a table later get exactly the same validation.
absl::Status ReadRoutes(const Reader& in, const Node& node, Config* c) {
  if (!node.IsSequence()) return in.Error(node, "routes", "must be a list of routes");
  for (size_t i = 0; i < node.size(); ++i) {
    routing::RouteSpec route;
    ASSIGN_OR_RETURN(route, ReadRoute(in, node[i], absl::StrCat("routes[", i, "]")));
    c->routes.push_back(std::move(route));
  }
  auto table = routing::RoutingTable::Create(c->pools, c->routes, /*generation=*/1);
  if (!table.ok()) return in.Error(Node(), "", table.status().message());
  c->table = *std::move(table);
  return absl::OkStatus();
}

absl::Status ReadNotifications(const Reader& in, const Node& node, Config* c) {
  RETURN_IF_ERROR(in.CheckKeys(node, "notifications", {"webhooks"}));
  const Node hooks = node["webhooks"];
  if (!hooks) return absl::OkStatus();
  if (!hooks.IsSequence())
    return in.Error(hooks, "notifications.webhooks", "must be a list of URLs");
  for (size_t i = 0; i < hooks.size(); ++i) {
    const std::string path = absl::StrCat("notifications.webhooks[", i, "]");
    std::string url;
    ASSIGN_OR_RETURN(url, in.String(hooks[i], path));
    if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
      return in.Error(hooks[i], path, "must start with http:// or https://");
    }
    c->webhooks.push_back(std::move(url));
  }
  return absl::OkStatus();
}

absl::Status ReadRollouts(const Reader& in, const Node& node, Config* c) {
  if (!node.IsSequence()) return in.Error(node, "rollouts", "must be a list of rollouts");
  for (size_t i = 0; i < node.size(); ++i) {
    RolloutSpec spec;
    ASSIGN_OR_RETURN(spec, ReadRollout(in, node[i], absl::StrCat("rollouts[", i, "]"), *c->table));
    for (const RolloutSpec& other : c->rollouts) {
      if (other.route == spec.route) {
        return in.Error(node[i], absl::StrCat("rollouts[", i, "].route"),
                        absl::StrCat("route \"", spec.route, "\" already has a rollout above"));
      }
    }
    c->rollouts.push_back(std::move(spec));
  }
  return absl::OkStatus();
}

absl::Status ReadStateStore(const Reader& in, const Node& node, Config* c) {
  RETURN_IF_ERROR(in.CheckKeys(node, "state_store", {"etcd"}));
  const Node etcd = node["etcd"];
  if (!etcd) return in.Error(node, "state_store", "name a store: etcd");
  RETURN_IF_ERROR(
      in.CheckKeys(etcd, "state_store.etcd", {"endpoints", "prefix", "lease_ttl", "tls"}));
  EtcdStoreConfig e;
  const Node endpoints = etcd["endpoints"];
  if (!endpoints || !endpoints.IsSequence() || endpoints.size() == 0) {
    return in.Error(etcd, "state_store.etcd.endpoints",
                    "required: a list of host:port, one per etcd member");
  }
  for (size_t i = 0; i < endpoints.size(); ++i) {
    std::string address;
    ASSIGN_OR_RETURN(address,
                     in.Address(endpoints[i], absl::StrCat("state_store.etcd.endpoints[", i, "]"),
                                routing::PortZero::kReject));
    e.endpoints.push_back(std::move(address));
  }
  if (!etcd["prefix"]) {
    return in.Error(etcd, "state_store.etcd.prefix",
                    "required: the key prefix of this deployment, e.g. /rollout-proxy/prod/");
  }
  ASSIGN_OR_RETURN(e.prefix, in.String(etcd["prefix"], "state_store.etcd.prefix"));
  if (e.prefix.size() < 2 || e.prefix.front() != '/' || e.prefix.back() != '/') {
    return in.Error(
        etcd["prefix"], "state_store.etcd.prefix",
        absl::StrCat("\"", e.prefix, "\" must start and end with / (e.g. /rollout-proxy/prod/)"));
  }
  if (etcd["lease_ttl"]) {
    ASSIGN_OR_RETURN(e.lease_ttl, in.Duration(etcd["lease_ttl"], "state_store.etcd.lease_ttl"));
    if (e.lease_ttl < absl::Seconds(2) || e.lease_ttl > absl::Minutes(5)) {
      return in.Error(etcd["lease_ttl"], "state_store.etcd.lease_ttl",
                      "must be between 2s and 5m (whole seconds: etcd leases count seconds)");
    }
  }
  if (etcd["tls"]) {
    ASSIGN_OR_RETURN(e.tls, ReadUpstreamTls(in, etcd["tls"], "state_store.etcd.tls"));
  }
  c->etcd = std::move(e);
  return absl::OkStatus();
}

bool SameAdmin(const Config& a, const Config& b) {
  if (a.admin.has_value() != b.admin.has_value()) return false;
  return !a.admin.has_value() ||
         (a.admin->listen == b.admin->listen && a.admin->token_file == b.admin->token_file &&
          a.admin->tls == b.admin->tls);
}

bool SameAnalysis(const Config& a, const Config& b) {
  return a.analysis.source == b.analysis.source &&
         a.analysis.prometheus.url == b.analysis.prometheus.url;
}

// A key read into one field with a typed read, and compared on that field.
#define ROLLOUT_FIELD_KEY(key, field, applies, ...)                                    \
  ConfigKey {                                                                          \
#key, false, applies,                                                                \
        [](const Reader& in, const Node& node, Config* c) -> absl::Status {              \
          ASSIGN_OR_RETURN(c->field, __VA_ARGS__);                                       \
          return absl::OkStatus();                                                       \
        },                                                                               \
        [](const Config& a, const Config& b) { return a.field == b.field; } \
  }

std::vector<ConfigKey> MakeKeys() {
  constexpr Applies kRestart = Applies::kOnRestart;
  return {
      {"listen", true, kRestart,
       [](const Reader& in, const Node& node, Config* c) -> absl::Status {
         ASSIGN_OR_RETURN(c->listen, in.Address(node, "listen", routing::PortZero::kAllow));
         return absl::OkStatus();
       },
       [](const Config& a, const Config& b) { return a.listen == b.listen; }},
      ROLLOUT_FIELD_KEY(workers, workers, kRestart, in.Integer(node, "workers", 1, 256)),
      ROLLOUT_FIELD_KEY(drain_timeout, drain_timeout, kRestart, in.Duration(node, "drain_timeout")),
      ROLLOUT_FIELD_KEY(drain_delay, drain_delay, kRestart, in.Duration(node, "drain_delay")),
      {"busy_poll", false, kRestart,
       [](const Reader& in, const Node& node, Config* c) -> absl::Status {
         ASSIGN_OR_RETURN(c->busy_poll, in.Duration(node, "busy_poll"));
         if (c->busy_poll > absl::Milliseconds(10)) {
           return in.Error(node, "busy_poll",
                           "must be at most 10ms (a worker spins that long after each turn)");
         }
         return absl::OkStatus();
       },
       [](const Config& a, const Config& b) { return a.busy_poll == b.busy_poll; }},
      ROLLOUT_FIELD_KEY(watch_config, watch_config, kRestart, in.Bool(node, "watch_config")),
      {"log_format", false, kRestart, ReadLogFormat,
       [](const Config& a, const Config& b) { return a.log_format == b.log_format; }},
      {"log_level", false, kRestart, ReadLogLevel,
       [](const Config& a, const Config& b) { return a.log_level == b.log_level; }},
      {"shared_state", false, Applies::kNever,
       [](const Reader& in, const Node& node, Config*) {
         return in.Error(node, "shared_state",
                         "is no longer a setting: replicas share their state through "
                         "state_store.etcd (see the README, Several replicas); remove the key");
       },
       nullptr},
      ROLLOUT_FIELD_KEY(max_message_bytes, max_message_bytes, kRestart,
                        in.Integer(node, "max_message_bytes", 1, INT32_MAX)),
      ROLLOUT_FIELD_KEY(max_concurrent_calls, max_concurrent_calls, kRestart,
                        in.Integer(node, "max_concurrent_calls", 1, INT32_MAX)),
      {"data_plane", false, Applies::kNever,
       [](const Reader& in, const Node& node, Config*) {
         return in.Error(node, "data_plane",
                         "is no longer a setting: the proxy has one data plane (frame-level "
                         "HTTP/2 with every feature); remove the key");
       },
       nullptr},
      ROLLOUT_FIELD_KEY(tls, tls, kRestart, ReadServerTls(in, node, "tls")),
      ROLLOUT_FIELD_KEY(connections, connections, kRestart, ReadConnectionLimits(in, node)),
      ROLLOUT_FIELD_KEY(resolver, resolver, kRestart, ReadResolver(in, node)),
      {"metrics", false, kRestart, ReadMetrics,
       [](const Config& a, const Config& b) { return a.metrics_listen == b.metrics_listen; }},
      {"admin", false, kRestart, ReadAdmin, SameAdmin},
      {"dashboard", false, kRestart, ReadDashboard,
       [](const Config& a, const Config& b) { return a.dashboard_listen == b.dashboard_listen; }},
      {"access_log", false, kRestart, ReadAccessLog,
       [](const Config& a, const Config& b) { return a.access_log == b.access_log; }},
      {"state_dir", false, kRestart,
       [](const Reader& in, const Node& node, Config* c) -> absl::Status {
         ASSIGN_OR_RETURN(c->state_dir, in.String(node, "state_dir"));
         if (c->state_dir.empty()) return in.Error(node, "state_dir", "must not be empty");
         return absl::OkStatus();
       },
       [](const Config& a, const Config& b) { return a.state_dir == b.state_dir; }},
      {"state_store", false, kRestart, ReadStateStore,
       [](const Config& a, const Config& b) { return a.etcd == b.etcd; }},
      {"pools", true, Applies::kOnReload, ReadPools, nullptr},
      {"routes", true, Applies::kOnReload, ReadRoutes, nullptr},
      {"analysis", false, kRestart,
       [](const Reader& in, const Node& node, Config* c) {
         return ReadAnalysis(in, node, &c->analysis);
       },
       SameAnalysis},
      {"notifications", false, kRestart, ReadNotifications,
       [](const Config& a, const Config& b) { return a.webhooks == b.webhooks; }},
      {"rollouts", false, Applies::kOnReload, ReadRollouts, nullptr},
  };
}

#undef ROLLOUT_FIELD_KEY

}  // namespace

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> keys = MakeKeys();
  return keys;
}

std::vector<std::string> KeysNeedingRestart(const Config& running, const Config& file) {
  std::vector<std::string> out;
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.applies == Applies::kOnRestart && !key.same(running, file)) out.push_back(key.name);
  }
  return out;
}

}  // namespace rollout::control
