#include "config/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <initializer_list>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "routing/host_port.h"

namespace rollout::control {
namespace {

// Reads YAML nodes into Config fields; every error carries source, line and field path.
// yaml-cpp reports failures by throwing; this class is the boundary where they turn into
// absl::Status.
class Reader {
 public:
  explicit Reader(absl::string_view source) : source_(source) {
    const size_t slash = source_.rfind('/');
    if (slash != std::string::npos) dir_ = source_.substr(0, slash + 1);
  }

  // A file path from the config: relative paths are relative to the config file's folder.
  std::string Path(const std::string& path) const {
    return path.empty() || path.front() == '/' ? path : dir_ + path;
  }

  absl::Status Error(const YAML::Node& node, absl::string_view path, absl::string_view what) const {
    const YAML::Mark mark = node.Mark();
    const std::string where = mark.is_null() ? source_ : absl::StrCat(source_, ":", mark.line + 1);
    if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", path, ": ", what));
  }

  // Fails on a non-map node, a duplicate key, or an unknown key.
  absl::Status CheckKeys(const YAML::Node& node, absl::string_view path,
                         std::initializer_list<absl::string_view> allowed) const {
    if (!node.IsMap()) return Error(node, path, "must be a mapping of key: value");
    absl::flat_hash_set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string key_path = path.empty() ? key : absl::StrCat(path, ".", key);
      if (!seen.insert(key).second) return Error(it->first, key_path, "duplicate key");
      bool known = false;
      for (absl::string_view a : allowed) known = known || a == key;
      if (known) continue;
      return Error(
          it->first, key_path,
          absl::StrCat("unknown key \"", key, "\" (allowed: ", absl::StrJoin(allowed, ", "), ")"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const YAML::Node& node, absl::string_view path) const {
    if (!node.IsScalar()) return Error(node, path, "must be a string");
    return node.Scalar();
  }

  absl::StatusOr<std::string> Address(const YAML::Node& node, absl::string_view path,
                                      routing::PortZero port_zero) const {
    absl::StatusOr<std::string> text = String(node, path);
    if (!text.ok()) return text.status();
    if (absl::Status s = routing::ValidateHostPort(*text, port_zero); !s.ok()) {
      return Error(node, path, s.message());
    }
    return text;
  }

  absl::StatusOr<double> Number(const YAML::Node& node, absl::string_view path) const {
    double value = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, value)) {
      return Error(node, path, absl::StrCat("must be a number, got \"", Dump(node), "\""));
    }
    return value;
  }

  absl::StatusOr<int64_t> Integer(const YAML::Node& node, absl::string_view path, int64_t min,
                                  int64_t max) const {
    int64_t value = 0;
    if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
      return Error(node, path, absl::StrCat("must be an integer, got \"", Dump(node), "\""));
    }
    if (value < min || value > max) {
      return Error(node, path, absl::StrCat(value, " is out of range ", min, "..", max));
    }
    return value;
  }

  absl::StatusOr<bool> Bool(const YAML::Node& node, absl::string_view path) const {
    absl::StatusOr<std::string> text = String(node, path);
    if (!text.ok()) return text.status();
    if (*text != "true" && *text != "false") return Error(node, path, "must be true or false");
    return *text == "true";
  }

  absl::StatusOr<absl::Duration> Duration(const YAML::Node& node, absl::string_view path) const {
    absl::StatusOr<std::string> text = String(node, path);
    if (!text.ok()) return text.status();
    absl::Duration d;
    if (!absl::ParseDuration(*text, &d) || d < absl::ZeroDuration() ||
        d == absl::InfiniteDuration()) {
      return Error(node, path,
                   absl::StrCat("bad duration \"", *text, "\" (use e.g. 500ms, 10s, 1m)"));
    }
    return d;
  }

 private:
  static std::string Dump(const YAML::Node& node) {
    if (node.IsScalar()) return node.Scalar();
    YAML::Emitter out;
    out << YAML::Flow << node;
    return out.c_str();
  }

  std::string source_;
  std::string dir_;  // the config file's folder, with its slash; empty: the working dir
};

absl::StatusOr<routing::ServerTlsSpec> ReadServerTls(const Reader& in, const YAML::Node& node,
                                                     const std::string& path) {
  RETURN_IF_ERROR(in.CheckKeys(
      node, path,
      {"cert_file", "key_file", "client_ca_file", "allowed_client_sans", "refresh_interval"}));
  routing::ServerTlsSpec tls;
  for (const char* key : {"cert_file", "key_file"}) {
    if (!node[key]) return in.Error(node, path, absl::StrCat("missing required key \"", key, "\""));
  }
  ASSIGN_OR_RETURN(tls.cert_file, in.String(node["cert_file"], path + ".cert_file"));
  ASSIGN_OR_RETURN(tls.key_file, in.String(node["key_file"], path + ".key_file"));
  if (node["client_ca_file"]) {
    ASSIGN_OR_RETURN(tls.client_ca_file,
                     in.String(node["client_ca_file"], path + ".client_ca_file"));
  }
  if (const YAML::Node sans = node["allowed_client_sans"]) {
    if (!sans.IsSequence()) {
      return in.Error(sans, path + ".allowed_client_sans", "must be a list of names");
    }
    for (size_t i = 0; i < sans.size(); ++i) {
      std::string san;
      ASSIGN_OR_RETURN(san,
                       in.String(sans[i], absl::StrCat(path, ".allowed_client_sans[", i, "]")));
      tls.allowed_client_sans.push_back(std::move(san));
    }
  }
  if (node["refresh_interval"]) {
    ASSIGN_OR_RETURN(tls.refresh_interval,
                     in.Duration(node["refresh_interval"], path + ".refresh_interval"));
  }
  tls.cert_file = in.Path(tls.cert_file);
  tls.key_file = in.Path(tls.key_file);
  tls.client_ca_file = in.Path(tls.client_ca_file);
  if (absl::Status s = routing::CheckServerTls(tls); !s.ok())
    return in.Error(node, path, s.message());
  return tls;
}

absl::StatusOr<routing::UpstreamTlsSpec> ReadUpstreamTls(const Reader& in, const YAML::Node& node,
                                                         const std::string& path) {
  if (node.IsNull()) return routing::UpstreamTlsSpec{true};  // "tls:" alone: system roots
  RETURN_IF_ERROR(in.CheckKeys(
      node, path, {"ca_file", "cert_file", "key_file", "server_name", "refresh_interval"}));
  routing::UpstreamTlsSpec tls;
  tls.enabled = true;
  for (auto [key, field] : {std::pair<const char*, std::string*>{"ca_file", &tls.ca_file},
                            {"cert_file", &tls.cert_file},
                            {"key_file", &tls.key_file},
                            {"server_name", &tls.server_name}}) {
    if (node[key]) ASSIGN_OR_RETURN(*field, in.String(node[key], absl::StrCat(path, ".", key)));
  }
  if (node["refresh_interval"]) {
    ASSIGN_OR_RETURN(tls.refresh_interval,
                     in.Duration(node["refresh_interval"], path + ".refresh_interval"));
  }
  tls.ca_file = in.Path(tls.ca_file);
  tls.cert_file = in.Path(tls.cert_file);
  tls.key_file = in.Path(tls.key_file);
  if (absl::Status s = routing::CheckUpstreamTls(tls); !s.ok()) {
    return in.Error(node, path, s.message());
  }
  return tls;
}

absl::StatusOr<routing::PoolSpec> ReadPool(const Reader& in, const YAML::Node& node,
                                           const std::string& path) {
  RETURN_IF_ERROR(in.CheckKeys(
      node, path,
      {"name", "endpoints", "health_check", "outlier_detection", "max_concurrent_calls", "tls"}));
  routing::PoolSpec pool;
  if (!node["name"]) return in.Error(node, path, "missing required key \"name\"");
  ASSIGN_OR_RETURN(pool.name, in.String(node["name"], path + ".name"));
  const YAML::Node endpoints = node["endpoints"];
  if (!endpoints) return in.Error(node, path, "missing required key \"endpoints\"");
  if (!endpoints.IsSequence()) {
    return in.Error(endpoints, path + ".endpoints", "must be a list of host:port");
  }
  for (size_t e = 0; e < endpoints.size(); ++e) {
    std::string address;
    ASSIGN_OR_RETURN(address, in.Address(endpoints[e], absl::StrCat(path, ".endpoints[", e, "]"),
                                         routing::PortZero::kReject));
    pool.endpoints.push_back(std::move(address));
  }
  if (node["tls"]) ASSIGN_OR_RETURN(pool.tls, ReadUpstreamTls(in, node["tls"], path + ".tls"));
  if (node["max_concurrent_calls"]) {
    ASSIGN_OR_RETURN(
        pool.max_concurrent_calls,
        in.Integer(node["max_concurrent_calls"], path + ".max_concurrent_calls", 1, INT32_MAX));
  }
  if (const YAML::Node hc = node["health_check"]) {
    const std::string hpath = path + ".health_check";
    RETURN_IF_ERROR(in.CheckKeys(
        hc, hpath, {"interval", "timeout", "healthy_threshold", "unhealthy_threshold", "service"}));
    routing::HealthCheckSpec& spec = pool.health_check;
    spec.enabled = true;
    if (hc["interval"])
      ASSIGN_OR_RETURN(spec.interval, in.Duration(hc["interval"], hpath + ".interval"));
    if (hc["timeout"])
      ASSIGN_OR_RETURN(spec.timeout, in.Duration(hc["timeout"], hpath + ".timeout"));
    if (hc["healthy_threshold"]) {
      ASSIGN_OR_RETURN(spec.healthy_threshold,
                       in.Integer(hc["healthy_threshold"], hpath + ".healthy_threshold", 1, 100));
    }
    if (hc["unhealthy_threshold"]) {
      ASSIGN_OR_RETURN(
          spec.unhealthy_threshold,
          in.Integer(hc["unhealthy_threshold"], hpath + ".unhealthy_threshold", 1, 100));
    }
    if (hc["service"]) ASSIGN_OR_RETURN(spec.service, in.String(hc["service"], hpath + ".service"));
  }
  if (const YAML::Node o = node["outlier_detection"]) {
    const std::string opath = path + ".outlier_detection";
    RETURN_IF_ERROR(in.CheckKeys(
        o, opath,
        {"consecutive_failures", "base_ejection", "max_ejection", "max_ejection_percent"}));
    routing::OutlierSpec& spec = pool.outlier;
    if (o["consecutive_failures"]) {
      ASSIGN_OR_RETURN(
          spec.consecutive_failures,
          in.Integer(o["consecutive_failures"], opath + ".consecutive_failures", 0, 10000));
    }
    if (o["base_ejection"]) {
      ASSIGN_OR_RETURN(spec.base_ejection,
                       in.Duration(o["base_ejection"], opath + ".base_ejection"));
    }
    if (o["max_ejection"]) {
      ASSIGN_OR_RETURN(spec.max_ejection, in.Duration(o["max_ejection"], opath + ".max_ejection"));
    }
    if (o["max_ejection_percent"]) {
      ASSIGN_OR_RETURN(
          spec.max_ejection_percent,
          in.Integer(o["max_ejection_percent"], opath + ".max_ejection_percent", 0, 100));
    }
  }
  return pool;
}

absl::StatusOr<routing::RouteSpec> ReadRoute(const Reader& in, const YAML::Node& node,
                                             const std::string& path) {
  RETURN_IF_ERROR(in.CheckKeys(
      node, path,
      {"name", "match", "sticky_key", "override_header", "override_pools", "mirror", "split"}));
  routing::RouteSpec route;
  if (!node["name"]) return in.Error(node, path, "missing required key \"name\"");
  ASSIGN_OR_RETURN(route.name, in.String(node["name"], path + ".name"));
  if (const YAML::Node match = node["match"]) {
    const std::string mpath = path + ".match";
    if (absl::Status s =
            in.CheckKeys(match, mpath, {"method_prefix", "method", "model", "metadata"});
        !s.ok()) {
      return s;
    }
    if (match["method_prefix"]) {
      ASSIGN_OR_RETURN(route.method_prefix,
                       in.String(match["method_prefix"], mpath + ".method_prefix"));
    }
    if (match["method"])
      ASSIGN_OR_RETURN(route.method, in.String(match["method"], mpath + ".method"));
    if (match["model"]) {
      ASSIGN_OR_RETURN(route.model, in.String(match["model"], mpath + ".model"));
      if (route.model.empty())
        return in.Error(match["model"], mpath + ".model", "must not be empty");
    }
    if (const YAML::Node metadata = match["metadata"]) {
      if (!metadata.IsSequence()) {
        return in.Error(metadata, mpath + ".metadata",
                        "must be a list of {key, equals | prefix | regex}");
      }
      for (size_t m = 0; m < metadata.size(); ++m) {
        const std::string epath = absl::StrCat(mpath, ".metadata[", m, "]");
        RETURN_IF_ERROR(in.CheckKeys(metadata[m], epath, {"key", "equals", "prefix", "regex"}));
        routing::MetadataMatchSpec spec;
        if (!metadata[m]["key"])
          return in.Error(metadata[m], epath, "missing required key \"key\"");
        ASSIGN_OR_RETURN(spec.key, in.String(metadata[m]["key"], epath + ".key"));
        int kinds = 0;
        for (const auto& [name, kind] :
             {std::pair{"equals", routing::MetadataMatchSpec::Kind::kEquals},
              std::pair{"prefix", routing::MetadataMatchSpec::Kind::kPrefix},
              std::pair{"regex", routing::MetadataMatchSpec::Kind::kRegex}}) {
          if (!metadata[m][name]) continue;
          ++kinds;
          spec.kind = kind;
          ASSIGN_OR_RETURN(spec.value, in.String(metadata[m][name], epath + "." + name));
        }
        if (kinds != 1) {
          return in.Error(metadata[m], epath, "needs exactly one of equals, prefix, regex");
        }
        route.metadata.push_back(std::move(spec));
      }
    }
  }
  if (const YAML::Node mirror = node["mirror"]) {
    const std::string mpath = path + ".mirror";
    if (absl::Status s =
            in.CheckKeys(mirror, mpath, {"pool", "percent", "max_inflight", "tolerance"});
        !s.ok()) {
      return s;
    }
    if (!mirror["pool"]) return in.Error(mirror, mpath, "missing required key \"pool\"");
    if (!mirror["percent"]) return in.Error(mirror, mpath, "missing required key \"percent\"");
    ASSIGN_OR_RETURN(route.mirror_pool, in.String(mirror["pool"], mpath + ".pool"));
    ASSIGN_OR_RETURN(route.mirror_percent, in.Number(mirror["percent"], mpath + ".percent"));
    if (mirror["max_inflight"]) {
      ASSIGN_OR_RETURN(route.mirror_max_inflight,
                       in.Integer(mirror["max_inflight"], mpath + ".max_inflight", 1, 100000));
    }
    if (mirror["tolerance"]) {
      ASSIGN_OR_RETURN(route.mirror_tolerance,
                       in.Number(mirror["tolerance"], mpath + ".tolerance"));
    }
  }
  if (node["sticky_key"]) {
    ASSIGN_OR_RETURN(route.sticky_key, in.String(node["sticky_key"], path + ".sticky_key"));
  }
  if (node["override_header"]) {
    ASSIGN_OR_RETURN(route.override_header,
                     in.String(node["override_header"], path + ".override_header"));
  }
  if (const YAML::Node pools = node["override_pools"]) {
    if (!pools.IsSequence()) {
      return in.Error(pools, path + ".override_pools", "must be a list of pool names");
    }
    for (size_t i = 0; i < pools.size(); ++i) {
      std::string pool;
      ASSIGN_OR_RETURN(pool, in.String(pools[i], absl::StrCat(path, ".override_pools[", i, "]")));
      route.override_pools.push_back(std::move(pool));
    }
  }
  const YAML::Node split = node["split"];
  if (!split) return in.Error(node, path, "missing required key \"split\"");
  if (!split.IsSequence() || split.size() == 0) {
    return in.Error(split, path + ".split", "must be a non-empty list of {pool, weight}");
  }
  for (size_t i = 0; i < split.size(); ++i) {
    const std::string arm_path = absl::StrCat(path, ".split[", i, "]");
    RETURN_IF_ERROR(in.CheckKeys(split[i], arm_path, {"pool", "weight"}));
    routing::SplitSpec arm;
    if (!split[i]["pool"]) return in.Error(split[i], arm_path, "missing required key \"pool\"");
    if (!split[i]["weight"]) return in.Error(split[i], arm_path, "missing required key \"weight\"");
    ASSIGN_OR_RETURN(arm.pool, in.String(split[i]["pool"], arm_path + ".pool"));
    ASSIGN_OR_RETURN(arm.weight, in.Number(split[i]["weight"], arm_path + ".weight"));
    route.split.push_back(std::move(arm));
  }
  return route;
}

absl::StatusOr<std::vector<double>> Numbers(const Reader& in, const YAML::Node& node,
                                            const std::string& path) {
  if (!node.IsSequence()) return in.Error(node, path, "must be a list of numbers");
  std::vector<double> out;
  for (size_t i = 0; i < node.size(); ++i) {
    double v = 0;
    ASSIGN_OR_RETURN(v, in.Number(node[i], absl::StrCat(path, "[", i, "]")));
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<RolloutSpec> ReadRollout(const Reader& in, const YAML::Node& node,
                                        const std::string& path,
                                        const routing::RoutingTable& table) {
  if (absl::Status s =
          in.CheckKeys(node, path, {"route",         "strategy",       "stable",
                                    "candidate",     "steps",          "interval",
                                    "min_requests",  "max_error_rate", "max_error_rate_increase",
                                    "max_p99",       "max_p99_ratio",  "max_mismatch_rate",
                                    "failure_limit", "mirror_percent", "rollback_window",
                                    "duration",      "sample_size",    "alpha",
                                    "auto_promote",  "notes"});
      !s.ok()) {
    return s;
  }
  RolloutSpec spec;
  for (const char* key : {"route", "stable", "candidate"}) {
    if (!node[key]) return in.Error(node, absl::StrCat(path, ".", key), "missing required key");
  }
  ASSIGN_OR_RETURN(spec.route, in.String(node["route"], path + ".route"));
  ASSIGN_OR_RETURN(spec.stable, in.String(node["stable"], path + ".stable"));
  ASSIGN_OR_RETURN(spec.candidate, in.String(node["candidate"], path + ".candidate"));
  if (node["strategy"]) {
    std::string name;
    ASSIGN_OR_RETURN(name, in.String(node["strategy"], path + ".strategy"));
    absl::StatusOr<Strategy> strategy = ParseStrategy(name);
    if (!strategy.ok()) return in.Error(node["strategy"], path, strategy.status().message());
    spec.strategy = *strategy;
  }
  if (node["steps"]) ASSIGN_OR_RETURN(spec.steps, Numbers(in, node["steps"], path + ".steps"));
  AnalysisSpec& a = spec.analysis;
  if (node["interval"])
    ASSIGN_OR_RETURN(a.interval, in.Duration(node["interval"], path + ".interval"));
  if (node["min_requests"]) {
    ASSIGN_OR_RETURN(a.min_requests,
                     in.Integer(node["min_requests"], path + ".min_requests", 1, INT64_MAX));
  }
  for (auto [key, field] :
       {std::pair<const char*, std::optional<double>*>{"max_error_rate", &a.max_error_rate},
        {"max_error_rate_increase", &a.max_error_rate_increase},
        {"max_p99_ratio", &a.max_p99_ratio},
        {"max_mismatch_rate", &a.max_mismatch_rate}}) {
    if (node[key]) ASSIGN_OR_RETURN(*field, in.Number(node[key], absl::StrCat(path, ".", key)));
  }
  if (node["max_p99"]) {
    absl::Duration d;
    ASSIGN_OR_RETURN(d, in.Duration(node["max_p99"], path + ".max_p99"));
    a.max_p99_seconds = absl::ToDoubleSeconds(d);
  }
  if (node["failure_limit"]) {
    ASSIGN_OR_RETURN(a.failure_limit,
                     in.Integer(node["failure_limit"], path + ".failure_limit", 1, 1000));
  }
  if (node["mirror_percent"]) {
    ASSIGN_OR_RETURN(spec.mirror_percent,
                     in.Number(node["mirror_percent"], path + ".mirror_percent"));
  }
  if (node["rollback_window"]) {
    ASSIGN_OR_RETURN(spec.rollback_window,
                     in.Duration(node["rollback_window"], path + ".rollback_window"));
  }
  if (node["duration"])
    ASSIGN_OR_RETURN(spec.duration, in.Duration(node["duration"], path + ".duration"));
  if (node["sample_size"]) {
    ASSIGN_OR_RETURN(spec.sample_size,
                     in.Integer(node["sample_size"], path + ".sample_size", 1, INT64_MAX));
  }
  if (node["alpha"]) ASSIGN_OR_RETURN(spec.alpha, in.Number(node["alpha"], path + ".alpha"));
  if (node["auto_promote"]) {
    ASSIGN_OR_RETURN(spec.auto_promote, in.Bool(node["auto_promote"], path + ".auto_promote"));
  }
  if (node["notes"]) ASSIGN_OR_RETURN(spec.notes, in.String(node["notes"], path + ".notes"));
  if (absl::Status s = ValidateRolloutSpec(table, &spec); !s.ok()) {
    return in.Error(node, path, s.message());
  }
  return spec;
}

absl::Status ReadAnalysis(const Reader& in, const YAML::Node& node, AnalysisConfig* out) {
  RETURN_IF_ERROR(in.CheckKeys(node, "analysis", {"source", "prometheus"}));
  if (node["source"]) ASSIGN_OR_RETURN(out->source, in.String(node["source"], "analysis.source"));
  if (out->source != "in_process" && out->source != "prometheus") {
    return in.Error(node["source"], "analysis.source",
                    absl::StrCat("unknown source \"", out->source, "\" (in_process, prometheus)"));
  }
  const YAML::Node p = node["prometheus"];
  if (out->source == "prometheus" && !p) {
    return in.Error(node, "analysis.prometheus", "required when source is prometheus");
  }
  if (!p) return absl::OkStatus();
  RETURN_IF_ERROR(in.CheckKeys(p, "analysis.prometheus", {"url", "timeout", "queries"}));
  if (!p["url"]) return in.Error(p, "analysis.prometheus.url", "missing required key");
  ASSIGN_OR_RETURN(out->prometheus.url, in.String(p["url"], "analysis.prometheus.url"));
  if (!absl::StartsWith(out->prometheus.url, "http://") &&
      !absl::StartsWith(out->prometheus.url, "https://")) {
    return in.Error(p["url"], "analysis.prometheus.url", "must start with http:// or https://");
  }
  while (absl::EndsWith(out->prometheus.url, "/")) out->prometheus.url.pop_back();
  if (p["timeout"]) {
    ASSIGN_OR_RETURN(out->prometheus.timeout,
                     in.Duration(p["timeout"], "analysis.prometheus.timeout"));
  }
  if (const YAML::Node q = p["queries"]) {
    const std::string qpath = "analysis.prometheus.queries";
    RETURN_IF_ERROR(in.CheckKeys(q, qpath,
                                 {"requests", "server_errors", "latency_buckets", "mirror_results",
                                  "mirror_latency_buckets"}));
    PrometheusQueries& queries = out->prometheus.queries;
    for (auto [key, field] : {std::pair<const char*, std::string*>{"requests", &queries.requests},
                              {"server_errors", &queries.server_errors},
                              {"latency_buckets", &queries.latency_buckets},
                              {"mirror_results", &queries.mirror_results},
                              {"mirror_latency_buckets", &queries.mirror_latency_buckets}}) {
      if (q[key]) ASSIGN_OR_RETURN(*field, in.String(q[key], absl::StrCat(qpath, ".", key)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<routing::ConnectionLimits> ReadConnectionLimits(const Reader& in,
                                                               const YAML::Node& node) {
  RETURN_IF_ERROR(in.CheckKeys(node, "connections",
                               {"max_connections", "max_concurrent_streams",
                                "max_header_list_bytes", "idle_timeout", "handshake_timeout"}));
  routing::ConnectionLimits out;
  if (node["max_connections"]) {
    ASSIGN_OR_RETURN(out.max_connections, in.Integer(node["max_connections"],
                                                     "connections.max_connections", 1, 10000000));
  }
  if (node["max_concurrent_streams"]) {
    ASSIGN_OR_RETURN(out.max_concurrent_streams,
                     in.Integer(node["max_concurrent_streams"],
                                "connections.max_concurrent_streams", 1, 1000000));
  }
  if (node["max_header_list_bytes"]) {
    // At most 64 KiB: nghttp2 sends no larger header block to a backend.
    ASSIGN_OR_RETURN(out.max_header_list_bytes,
                     in.Integer(node["max_header_list_bytes"], "connections.max_header_list_bytes",
                                1024, 65536));
  }
  if (node["idle_timeout"]) {  // 0s: never
    ASSIGN_OR_RETURN(out.idle_timeout,
                     in.Duration(node["idle_timeout"], "connections.idle_timeout"));
  }
  if (node["handshake_timeout"]) {
    ASSIGN_OR_RETURN(out.handshake_timeout,
                     in.Duration(node["handshake_timeout"], "connections.handshake_timeout"));
    if (out.handshake_timeout < absl::Milliseconds(100)) {
      return in.Error(node["handshake_timeout"], "connections.handshake_timeout",
                      "must be at least 100ms");
    }
  }
  return out;
}

absl::StatusOr<routing::ResolverSpec> ReadResolver(const Reader& in, const YAML::Node& node) {
  RETURN_IF_ERROR(in.CheckKeys(node, "resolver", {"servers", "refresh_interval"}));
  routing::ResolverSpec out;
  if (const YAML::Node servers = node["servers"]) {
    if (!servers.IsSequence()) {
      return in.Error(servers, "resolver.servers", "must be a list of ip or ip:port");
    }
    for (size_t i = 0; i < servers.size(); ++i) {
      const std::string path = absl::StrCat("resolver.servers[", i, "]");
      std::string server;
      ASSIGN_OR_RETURN(server, in.String(servers[i], path));
      // An address ("10.0.0.2", "fd00::2"), or one with a port ("10.0.0.2:5353", "[fd00::2]:53").
      const routing::HostPort hp = routing::SplitHostPort(server);
      int port = 0;
      const bool with_port = routing::IsIpAddress(hp.host) && absl::SimpleAtoi(hp.port, &port) &&
                             port > 0 && port < 65536;
      if (!routing::IsIpAddress(server) && !with_port) {
        return in.Error(servers[i], path,
                        absl::StrCat("\"", server, "\" must be an IP address, or IP:port"));
      }
      out.servers.push_back(std::move(server));
    }
  }
  if (node["refresh_interval"]) {
    ASSIGN_OR_RETURN(out.refresh_interval,
                     in.Duration(node["refresh_interval"], "resolver.refresh_interval"));
    if (out.refresh_interval < absl::Seconds(1)) {
      return in.Error(node["refresh_interval"], "resolver.refresh_interval", "must be at least 1s");
    }
  }
  return out;
}

absl::StatusOr<Config> ReadConfig(const Reader& in, const YAML::Node& root) {
  RETURN_IF_ERROR(in.CheckKeys(
      root, "",
      {"listen",      "workers",   "drain_timeout", "drain_delay",       "watch_config",
       "log_format",  "log_level", "shared_state",  "max_message_bytes", "max_concurrent_calls",
       "tls",         "metrics",   "admin",         "state_dir",         "pools",
       "routes",      "analysis",  "notifications", "rollouts",          "data_plane",
       "connections", "resolver"}));
  Config config;
  if (!root["listen"]) return in.Error(root, "listen", "missing required key");
  ASSIGN_OR_RETURN(config.listen, in.Address(root["listen"], "listen", routing::PortZero::kAllow));
  if (root["workers"]) {
    ASSIGN_OR_RETURN(config.workers, in.Integer(root["workers"], "workers", 1, 256));
  }
  if (root["drain_timeout"]) {
    ASSIGN_OR_RETURN(config.drain_timeout, in.Duration(root["drain_timeout"], "drain_timeout"));
  }
  if (root["drain_delay"]) {
    ASSIGN_OR_RETURN(config.drain_delay, in.Duration(root["drain_delay"], "drain_delay"));
  }
  if (root["watch_config"]) {
    ASSIGN_OR_RETURN(config.watch_config, in.Bool(root["watch_config"], "watch_config"));
  }
  if (root["log_format"]) {
    std::string name;
    ASSIGN_OR_RETURN(name, in.String(root["log_format"], "log_format"));
    const std::optional<log::Format> format = log::FormatNamed(name);
    if (!format) return in.Error(root["log_format"], "log_format", "must be text or json");
    config.log_format = *format;
  }
  if (root["log_level"]) {
    std::string name;
    ASSIGN_OR_RETURN(name, in.String(root["log_level"], "log_level"));
    const std::optional<log::Level> level = log::LevelNamed(name);
    if (!level) {
      return in.Error(root["log_level"], "log_level", "must be debug, info, warn or error");
    }
    config.log_level = *level;
  }
  if (root["shared_state"]) {
    ASSIGN_OR_RETURN(config.shared_state, in.Bool(root["shared_state"], "shared_state"));
    if (config.shared_state && !root["state_dir"]) {
      return in.Error(root["shared_state"], "shared_state", "needs state_dir (the shared folder)");
    }
  }
  if (root["max_message_bytes"]) {
    ASSIGN_OR_RETURN(config.max_message_bytes,
                     in.Integer(root["max_message_bytes"], "max_message_bytes", 1, INT32_MAX));
  }
  if (root["max_concurrent_calls"]) {
    ASSIGN_OR_RETURN(config.max_concurrent_calls, in.Integer(root["max_concurrent_calls"],
                                                             "max_concurrent_calls", 1, INT32_MAX));
  }
  if (root["data_plane"]) {  // known, so that the error says more than "unknown key"
    return in.Error(root["data_plane"], "data_plane",
                    "is no longer a setting: the proxy has one data plane (frame-level HTTP/2 "
                    "with every feature); remove the key");
  }
  if (root["tls"]) ASSIGN_OR_RETURN(config.tls, ReadServerTls(in, root["tls"], "tls"));
  if (const YAML::Node connections = root["connections"]) {
    ASSIGN_OR_RETURN(config.connections, ReadConnectionLimits(in, connections));
  }
  if (const YAML::Node resolver = root["resolver"]) {
    ASSIGN_OR_RETURN(config.resolver, ReadResolver(in, resolver));
  }
  if (const YAML::Node metrics = root["metrics"]) {
    RETURN_IF_ERROR(in.CheckKeys(metrics, "metrics", {"listen"}));
    if (!metrics["listen"]) return in.Error(metrics, "metrics", "missing required key \"listen\"");
    ASSIGN_OR_RETURN(config.metrics_listen,
                     in.Address(metrics["listen"], "metrics.listen", routing::PortZero::kAllow));
  }
  if (const YAML::Node admin = root["admin"]) {
    RETURN_IF_ERROR(in.CheckKeys(admin, "admin", {"listen", "token_file", "tls"}));
    AdminConfig a;
    if (admin["listen"]) {
      ASSIGN_OR_RETURN(a.listen,
                       in.Address(admin["listen"], "admin.listen", routing::PortZero::kAllow));
    }
    if (!admin["token_file"]) {
      return in.Error(admin, "admin.token_file",
                      "required: the admin API refuses calls without a valid token");
    }
    ASSIGN_OR_RETURN(a.token_file, in.String(admin["token_file"], "admin.token_file"));
    if (admin["tls"]) ASSIGN_OR_RETURN(a.tls, ReadServerTls(in, admin["tls"], "admin.tls"));
    config.admin = std::move(a);
  }
  if (root["state_dir"]) {
    ASSIGN_OR_RETURN(config.state_dir, in.String(root["state_dir"], "state_dir"));
    if (config.state_dir.empty())
      return in.Error(root["state_dir"], "state_dir", "must not be empty");
  }
  const YAML::Node pools = root["pools"];
  if (!pools) return in.Error(root, "pools", "missing required key");
  if (!pools.IsSequence()) return in.Error(pools, "pools", "must be a list of pools");
  for (size_t i = 0; i < pools.size(); ++i) {
    routing::PoolSpec pool;
    ASSIGN_OR_RETURN(pool, ReadPool(in, pools[i], absl::StrCat("pools[", i, "]")));
    config.pools.push_back(std::move(pool));
  }
  const YAML::Node routes = root["routes"];
  if (!routes) return in.Error(root, "routes", "missing required key");
  if (!routes.IsSequence()) return in.Error(routes, "routes", "must be a list of routes");
  for (size_t i = 0; i < routes.size(); ++i) {
    routing::RouteSpec route;
    ASSIGN_OR_RETURN(route, ReadRoute(in, routes[i], absl::StrCat("routes[", i, "]")));
    config.routes.push_back(std::move(route));
  }
  // Semantic checks (names, references, weights) live with the table, so that admin calls
  // that build a table later get exactly the same validation.
  auto table = routing::RoutingTable::Create(config.pools, config.routes, /*generation=*/1);
  if (!table.ok()) {
    return in.Error(YAML::Node(), "", table.status().message());
  }
  config.table = *std::move(table);
  if (const YAML::Node analysis = root["analysis"]) {
    RETURN_IF_ERROR(ReadAnalysis(in, analysis, &config.analysis));
  }
  if (const YAML::Node n = root["notifications"]) {
    RETURN_IF_ERROR(in.CheckKeys(n, "notifications", {"webhooks"}));
    if (const YAML::Node hooks = n["webhooks"]) {
      if (!hooks.IsSequence())
        return in.Error(hooks, "notifications.webhooks", "must be a list of URLs");
      for (size_t i = 0; i < hooks.size(); ++i) {
        const std::string path = absl::StrCat("notifications.webhooks[", i, "]");
        std::string url;
        ASSIGN_OR_RETURN(url, in.String(hooks[i], path));
        if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
          return in.Error(hooks[i], path, "must start with http:// or https://");
        }
        config.webhooks.push_back(std::move(url));
      }
    }
  }
  if (const YAML::Node rollouts = root["rollouts"]) {
    if (!rollouts.IsSequence()) return in.Error(rollouts, "rollouts", "must be a list of rollouts");
    for (size_t i = 0; i < rollouts.size(); ++i) {
      RolloutSpec spec;
      ASSIGN_OR_RETURN(
          spec, ReadRollout(in, rollouts[i], absl::StrCat("rollouts[", i, "]"), *config.table));
      for (const RolloutSpec& other : config.rollouts) {
        if (other.route == spec.route) {
          return in.Error(rollouts[i], absl::StrCat("rollouts[", i, "].route"),
                          absl::StrCat("route \"", spec.route, "\" already has a rollout above"));
        }
      }
      config.rollouts.push_back(std::move(spec));
    }
  }
  return config;
}

#undef ASSIGN_OR_RETURN

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text, absl::string_view source_name) {
  Reader in(source_name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  if (!root || root.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": the config is empty"));
  }
  try {
    absl::StatusOr<Config> config = ReadConfig(in, root);
    if (config.ok()) config->source = std::string(source_name);
    return config;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open the config file"));
  }
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<Config> config = ParseConfig(text.str(), path);
  if (!config.ok()) return config;
  // Relative paths in the file are relative to the file's folder, not to the working dir.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto resolve = [&](std::string* p) {
    if (!p->empty() && p->front() != '/') *p = dir + "/" + *p;
  };
  resolve(&config->state_dir);
  if (config->admin.has_value()) resolve(&config->admin->token_file);
  return config;
}

}  // namespace rollout::control
