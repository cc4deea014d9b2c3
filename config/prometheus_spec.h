// PrometheusSourceConfig: where the Prometheus metric source asks, and what
// (analysis.prometheus in the config). The queries are templates: {route}, {pool} and
// {window} are filled in by PrometheusSource (rollout/prometheus_source.h). The defaults
// read rollout-proxy's own families.
//
// Thread-safety: plain values.
#ifndef ROLLOUT_CONFIG_PROMETHEUS_SPEC_H_
#define ROLLOUT_CONFIG_PROMETHEUS_SPEC_H_

#include <string>

#include "absl/time/time.h"

namespace rollout::control {

struct PrometheusQueries {
  // A scalar: calls answered (client cancels excluded).
  std::string requests =
      "sum(increase(rollout_proxy_requests_total{route=\"{route}\",pool=\"{pool}\","
      "grpc_code!=\"CANCELLED\"}[{window}]))";
  // A scalar: the calls that count against the version (server-class codes).
  std::string server_errors =
      "sum(increase(rollout_proxy_requests_total{route=\"{route}\",pool=\"{pool}\","
      "grpc_code=~\"UNKNOWN|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED|ABORTED|UNIMPLEMENTED|"
      "INTERNAL|UNAVAILABLE|DATA_LOSS\"}[{window}]))";
  // A vector by `le`: cumulative latency buckets over the window.
  std::string latency_buckets =
      "sum by (le) (increase(rollout_proxy_request_duration_seconds_bucket{route=\"{route}\","
      "pool=\"{pool}\"}[{window}]))";
  // A vector by `result`: shadow results (match, mismatch, error, dropped).
  std::string mirror_results =
      "sum by (result) (increase(rollout_proxy_mirror_results_total{route=\"{route}\","
      "pool=\"{pool}\"}[{window}]))";
  // A vector by `le`: cumulative buckets of the shadow calls' own latency.
  std::string mirror_latency_buckets =
      "sum by (le) (increase(rollout_proxy_mirror_duration_seconds_bucket{route=\"{route}\","
      "pool=\"{pool}\"}[{window}]))";
  // Vectors by `le`: cumulative buckets of the time to the first response message, and of
  // the gaps between later ones.
  std::string first_message_buckets =
      "sum by (le) (increase(rollout_proxy_stream_first_message_seconds_bucket{route=\"{route}\","
      "pool=\"{pool}\"}[{window}]))";
  std::string message_gap_buckets =
      "sum by (le) (increase(rollout_proxy_stream_message_gap_seconds_bucket{route=\"{route}\","
      "pool=\"{pool}\"}[{window}]))";
};

struct PrometheusSourceConfig {
  std::string url;  // e.g. http://127.0.0.1:9090
  absl::Duration timeout = absl::Seconds(2);
  PrometheusQueries queries;
};

}  // namespace rollout::control

#endif  // ROLLOUT_CONFIG_PROMETHEUS_SPEC_H_
