// The rollouts[] and analysis readers, and the connections and resolver sections.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "config/section_readers.h"
#include "routing/host_port.h"

namespace rollout::control {
namespace {

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

// The keys of particular strategies, the notes and the gates.
absl::Status ReadStrategyKeys(const Reader& in, const YAML::Node& node, const std::string& path,
                              RolloutSpec* spec) {
  if (node["mirror_percent"]) {
    ASSIGN_OR_RETURN(spec->mirror_percent,
                     in.Number(node["mirror_percent"], path + ".mirror_percent"));
  }
  if (node["rollback_window"]) {
    ASSIGN_OR_RETURN(spec->rollback_window,
                     in.Duration(node["rollback_window"], path + ".rollback_window"));
  }
  if (node["duration"])
    ASSIGN_OR_RETURN(spec->duration, in.Duration(node["duration"], path + ".duration"));
  if (node["sample_size"]) {
    ASSIGN_OR_RETURN(spec->sample_size,
                     in.Integer(node["sample_size"], path + ".sample_size", 1, INT64_MAX));
  }
  if (node["alpha"]) ASSIGN_OR_RETURN(spec->alpha, in.Number(node["alpha"], path + ".alpha"));
  if (node["auto_promote"]) {
    ASSIGN_OR_RETURN(spec->auto_promote, in.Bool(node["auto_promote"], path + ".auto_promote"));
  }
  if (node["non_inferiority_margin"]) {
    ASSIGN_OR_RETURN(spec->non_inferiority_margin,
                     in.Number(node["non_inferiority_margin"], path + ".non_inferiority_margin"));
  }
  if (node["latency_margin"]) {
    ASSIGN_OR_RETURN(spec->latency_margin,
                     in.Number(node["latency_margin"], path + ".latency_margin"));
  }
  if (node["notes"]) ASSIGN_OR_RETURN(spec->notes, in.String(node["notes"], path + ".notes"));
  if (node["start_at"]) {
    std::string text, err;
    ASSIGN_OR_RETURN(text, in.String(node["start_at"], path + ".start_at"));
    if (!absl::ParseTime(absl::RFC3339_full, text, &spec->start_at, &err)) {
      return in.Error(node["start_at"], path + ".start_at",
                      absl::StrCat("\"", text, "\" is not an RFC 3339 time (", err, ")"));
    }
  }
  if (const YAML::Node w = node["window"]) {
    RETURN_IF_ERROR(in.CheckKeys(w, path + ".window", {"days", "hours", "timezone"}));
    std::string days, hours, zone;
    if (w["days"]) ASSIGN_OR_RETURN(days, in.String(w["days"], path + ".window.days"));
    if (w["hours"]) ASSIGN_OR_RETURN(hours, in.String(w["hours"], path + ".window.hours"));
    if (w["timezone"]) ASSIGN_OR_RETURN(zone, in.String(w["timezone"], path + ".window.timezone"));
    absl::StatusOr<ReleaseWindow> parsed = ReleaseWindow::Parse(days, hours, zone);
    if (!parsed.ok()) return in.Error(w, path, parsed.status().message());
    spec->window = *std::move(parsed);
  }
  return absl::OkStatus();
}

// The pre-release gates' keys: load_test and approval.
absl::Status ReadGates(const Reader& in, const YAML::Node& node, const std::string& path,
                       RolloutSpec* spec) {
  if (const YAML::Node t = node["load_test"]) {
    const std::string at = path + ".load_test";
    RETURN_IF_ERROR(in.CheckKeys(t, at, {"duration", "rate", "sample", "max_bytes", "timeout"}));
    LoadTestSpec l;
    if (t["duration"]) ASSIGN_OR_RETURN(l.duration, in.Duration(t["duration"], at + ".duration"));
    if (t["rate"]) ASSIGN_OR_RETURN(l.rate, in.Number(t["rate"], at + ".rate"));
    if (t["sample"]) ASSIGN_OR_RETURN(l.sample, in.Integer(t["sample"], at + ".sample", 1, 10000));
    if (t["max_bytes"]) {
      ASSIGN_OR_RETURN(l.max_bytes,
                       in.Integer(t["max_bytes"], at + ".max_bytes", 64 << 10, int64_t{256} << 20));
    }
    if (t["timeout"]) ASSIGN_OR_RETURN(l.timeout, in.Duration(t["timeout"], at + ".timeout"));
    spec->load_test = l;
  }
  if (const YAML::Node a = node["approval"]) {
    RETURN_IF_ERROR(in.CheckKeys(a, path + ".approval", {"webhook", "timeout"}));
    ApprovalSpec approval;
    if (a["webhook"]) {
      ASSIGN_OR_RETURN(approval.webhook, in.String(a["webhook"], path + ".approval.webhook"));
    }
    if (a["timeout"]) {
      ASSIGN_OR_RETURN(approval.timeout, in.Duration(a["timeout"], path + ".approval.timeout"));
    }
    spec->approval = approval;
  }
  if (node["compatibility"]) {
    std::string name;
    ASSIGN_OR_RETURN(name, in.String(node["compatibility"], path + ".compatibility"));
    absl::StatusOr<Compatibility> c = ParseCompatibility(name);
    if (!c.ok()) return in.Error(node["compatibility"], path, c.status().message());
    spec->compatibility = *c;
  }
  return absl::OkStatus();
}

// A rollout's analysis keys: the interval, min_requests, the thresholds and the limits.
absl::Status ReadThresholds(const Reader& in, const YAML::Node& node, const std::string& path,
                            AnalysisSpec* spec) {
  AnalysisSpec& a = *spec;
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
        {"max_mismatch_rate", &a.max_mismatch_rate},
        {"max_first_message_p99_ratio", &a.max_first_message_p99_ratio},
        {"max_message_gap_p99_ratio", &a.max_message_gap_p99_ratio}}) {
    if (node[key]) ASSIGN_OR_RETURN(*field, in.Number(node[key], absl::StrCat(path, ".", key)));
  }
  for (auto [key, field] :
       {std::pair<const char*, std::optional<double>*>{"max_p99", &a.max_p99_seconds},
        {"max_first_message_p99", &a.max_first_message_p99_seconds},
        {"max_message_gap_p99", &a.max_message_gap_p99_seconds}}) {
    if (!node[key]) continue;
    absl::Duration d;
    ASSIGN_OR_RETURN(d, in.Duration(node[key], absl::StrCat(path, ".", key)));
    *field = absl::ToDoubleSeconds(d);
  }
  if (node["inconclusive_limit"]) {
    ASSIGN_OR_RETURN(a.inconclusive_limit, in.Integer(node["inconclusive_limit"],
                                                      path + ".inconclusive_limit", 1, 10000));
  }
  if (node["failure_limit"]) {
    ASSIGN_OR_RETURN(a.failure_limit,
                     in.Integer(node["failure_limit"], path + ".failure_limit", 1, 1000));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RolloutSpec> ReadRollout(const Reader& in, const YAML::Node& node,
                                        const std::string& path,
                                        const routing::RoutingTable& table) {
  if (absl::Status s = in.CheckKeys(node, path,
                                    {"route",
                                     "strategy",
                                     "stable",
                                     "candidate",
                                     "steps",
                                     "interval",
                                     "min_requests",
                                     "max_error_rate",
                                     "max_error_rate_increase",
                                     "max_p99",
                                     "max_p99_ratio",
                                     "max_mismatch_rate",
                                     "failure_limit",
                                     "mirror_percent",
                                     "rollback_window",
                                     "duration",
                                     "sample_size",
                                     "alpha",
                                     "auto_promote",
                                     "non_inferiority_margin",
                                     "latency_margin",
                                     "notes",
                                     "compatibility",
                                     "start_at",
                                     "window",
                                     "approval",
                                     "load_test",
                                     "inconclusive_limit",
                                     "max_first_message_p99",
                                     "max_first_message_p99_ratio",
                                     "max_message_gap_p99",
                                     "max_message_gap_p99_ratio"});
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
  RETURN_IF_ERROR(ReadThresholds(in, node, path, &spec.analysis));
  RETURN_IF_ERROR(ReadStrategyKeys(in, node, path, &spec));
  RETURN_IF_ERROR(ReadGates(in, node, path, &spec));
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
    RETURN_IF_ERROR(
        in.CheckKeys(q, qpath,
                     {"requests", "server_errors", "latency_buckets", "mirror_results",
                      "mirror_latency_buckets", "first_message_buckets", "message_gap_buckets"}));
    PrometheusQueries& queries = out->prometheus.queries;
    for (auto [key, field] : {std::pair<const char*, std::string*>{"requests", &queries.requests},
                              {"server_errors", &queries.server_errors},
                              {"latency_buckets", &queries.latency_buckets},
                              {"mirror_results", &queries.mirror_results},
                              {"mirror_latency_buckets", &queries.mirror_latency_buckets},
                              {"first_message_buckets", &queries.first_message_buckets},
                              {"message_gap_buckets", &queries.message_gap_buckets}}) {
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

}  // namespace rollout::control
