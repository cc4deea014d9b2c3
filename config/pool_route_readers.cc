// The pools[] and routes[] readers, and the TLS sections they and the listeners share.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "config/section_readers.h"
#include "routing/host_port.h"

namespace rollout::control {

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

namespace {

absl::StatusOr<routing::HealthCheckSpec> ReadHealthCheck(const Reader& in, const YAML::Node& hc,
                                                         const std::string& hpath) {
  RETURN_IF_ERROR(in.CheckKeys(
      hc, hpath, {"interval", "timeout", "healthy_threshold", "unhealthy_threshold", "service"}));
  routing::HealthCheckSpec spec;
  spec.enabled = true;
  if (hc["interval"])
    ASSIGN_OR_RETURN(spec.interval, in.Duration(hc["interval"], hpath + ".interval"));
  if (hc["timeout"]) ASSIGN_OR_RETURN(spec.timeout, in.Duration(hc["timeout"], hpath + ".timeout"));
  if (hc["healthy_threshold"]) {
    ASSIGN_OR_RETURN(spec.healthy_threshold,
                     in.Integer(hc["healthy_threshold"], hpath + ".healthy_threshold", 1, 100));
  }
  if (hc["unhealthy_threshold"]) {
    ASSIGN_OR_RETURN(spec.unhealthy_threshold,
                     in.Integer(hc["unhealthy_threshold"], hpath + ".unhealthy_threshold", 1, 100));
  }
  if (hc["service"]) ASSIGN_OR_RETURN(spec.service, in.String(hc["service"], hpath + ".service"));
  return spec;
}

}  // namespace

absl::StatusOr<routing::PoolSpec> ReadPool(const Reader& in, const YAML::Node& node,
                                           const std::string& path) {
  RETURN_IF_ERROR(in.CheckKeys(node, path,
                               {"name", "endpoints", "health_check", "outlier_detection",
                                "max_concurrent_calls", "tls", "model_name", "model_version"}));
  routing::PoolSpec pool;
  pool.definition = Reader::Canonical(node);
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
  if (node["model_name"]) {
    ASSIGN_OR_RETURN(pool.model_name, in.String(node["model_name"], path + ".model_name"));
    if (pool.model_name.empty()) return in.Error(node, path + ".model_name", "must not be empty");
  }
  if (node["model_version"]) {
    ASSIGN_OR_RETURN(pool.model_version, in.String(node["model_version"], path + ".model_version"));
  }
  if (node["max_concurrent_calls"]) {
    ASSIGN_OR_RETURN(
        pool.max_concurrent_calls,
        in.Integer(node["max_concurrent_calls"], path + ".max_concurrent_calls", 1, INT32_MAX));
  }
  if (const YAML::Node hc = node["health_check"]) {
    ASSIGN_OR_RETURN(pool.health_check, ReadHealthCheck(in, hc, path + ".health_check"));
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

namespace {

// routes[].match: the method, model and metadata conditions.
absl::Status ReadMatch(const Reader& in, const YAML::Node& match, const std::string& path,
                       routing::RouteSpec* route) {
  const std::string mpath = path + ".match";
  RETURN_IF_ERROR(in.CheckKeys(match, mpath, {"method_prefix", "method", "model", "metadata"}));
  if (match["method_prefix"]) {
    ASSIGN_OR_RETURN(route->method_prefix,
                     in.String(match["method_prefix"], mpath + ".method_prefix"));
  }
  if (match["method"])
    ASSIGN_OR_RETURN(route->method, in.String(match["method"], mpath + ".method"));
  if (match["model"]) {
    ASSIGN_OR_RETURN(route->model, in.String(match["model"], mpath + ".model"));
    if (route->model.empty())
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
      if (!metadata[m]["key"]) return in.Error(metadata[m], epath, "missing required key \"key\"");
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
      route->metadata.push_back(std::move(spec));
    }
  }
  return absl::OkStatus();
}

// routes[].mirror: the shadow pool and its share.
absl::Status ReadMirror(const Reader& in, const YAML::Node& mirror, const std::string& path,
                        routing::RouteSpec* route) {
  const std::string mpath = path + ".mirror";
  RETURN_IF_ERROR(in.CheckKeys(mirror, mpath, {"pool", "percent", "max_inflight", "tolerance"}));
  if (!mirror["pool"]) return in.Error(mirror, mpath, "missing required key \"pool\"");
  if (!mirror["percent"]) return in.Error(mirror, mpath, "missing required key \"percent\"");
  ASSIGN_OR_RETURN(route->mirror_pool, in.String(mirror["pool"], mpath + ".pool"));
  ASSIGN_OR_RETURN(route->mirror_percent, in.Number(mirror["percent"], mpath + ".percent"));
  if (mirror["max_inflight"]) {
    ASSIGN_OR_RETURN(route->mirror_max_inflight,
                     in.Integer(mirror["max_inflight"], mpath + ".max_inflight", 1, 100000));
  }
  if (mirror["tolerance"]) {
    ASSIGN_OR_RETURN(route->mirror_tolerance, in.Number(mirror["tolerance"], mpath + ".tolerance"));
  }
  return absl::OkStatus();
}

// routes[].split: the weighted arms.
absl::Status ReadSplit(const Reader& in, const YAML::Node& node, const std::string& path,
                       routing::RouteSpec* route) {
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
    route->split.push_back(std::move(arm));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<routing::RouteSpec> ReadRoute(const Reader& in, const YAML::Node& node,
                                             const std::string& path) {
  RETURN_IF_ERROR(in.CheckKeys(
      node, path,
      {"name", "match", "sticky_key", "override_header", "override_pools", "mirror", "split"}));
  routing::RouteSpec route;
  route.definition = Reader::Canonical(node);
  if (!node["name"]) return in.Error(node, path, "missing required key \"name\"");
  ASSIGN_OR_RETURN(route.name, in.String(node["name"], path + ".name"));
  if (const YAML::Node match = node["match"]) RETURN_IF_ERROR(ReadMatch(in, match, path, &route));
  if (const YAML::Node mirror = node["mirror"]) {
    RETURN_IF_ERROR(ReadMirror(in, mirror, path, &route));
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
  RETURN_IF_ERROR(ReadSplit(in, node, path, &route));
  return route;
}

}  // namespace rollout::control
