#include "rollout/prometheus_source.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "rollout/http_client.h"

namespace rollout::control {
namespace {

uint64_t Count(double v) { return v > 0 ? static_cast<uint64_t>(std::llround(v)) : 0; }

}  // namespace

std::string PrometheusSource::Expand(const std::string& query, const std::string& route,
                                     const std::string& pool, absl::Duration window) {
  const int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(window));
  return absl::StrReplaceAll(
      query, {{"{route}", route}, {"{pool}", pool}, {"{window}", absl::StrCat(seconds, "s")}});
}

absl::StatusOr<std::map<std::string, double>> PrometheusSource::Query(const std::string& promql,
                                                                      const std::string& by) {
  const std::string url = absl::StrCat(config_.url, "/api/v1/query?query=", UrlEncode(promql));
  absl::StatusOr<HttpResponse> response = HttpGet(url, config_.timeout);
  if (!response.ok()) {
    return absl::UnavailableError(
        absl::StrCat("prometheus at ", config_.url, ": ", response.status().message()));
  }
  nlohmann::json j = nlohmann::json::parse(response->body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::UnavailableError(
        absl::StrCat("prometheus: HTTP ", response->status, ", not a JSON answer to ", promql));
  }
  if (j.value("status", "") != "success") {
    return absl::UnavailableError(absl::StrCat("prometheus: ", j.value("errorType", "error"), ": ",
                                               j.value("error", ""), " in ", promql));
  }
  std::map<std::string, double> out;
  const nlohmann::json& data = j["data"];
  if (!data.is_object() || data.value("resultType", "") != "vector" || !data["result"].is_array()) {
    return absl::UnavailableError(absl::StrCat("prometheus: not an instant vector: ", promql));
  }
  for (const auto& sample : data["result"]) {
    const auto& metric = sample["metric"];
    const std::string key = by.empty() ? "" : metric.value(by, "");
    double v = 0;
    if (!sample["value"].is_array() || sample["value"].size() != 2 ||
        !absl::SimpleAtod(sample["value"][1].get<std::string>(), &v)) {
      return absl::UnavailableError(absl::StrCat("prometheus: unreadable sample in ", promql));
    }
    if (std::isnan(v)) continue;
    out[key] += v;
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<double, uint64_t>>> PrometheusSource::Histogram(
    const std::string& promql) {
  auto buckets = Query(promql, "le");
  if (!buckets.ok()) return buckets.status();
  std::vector<std::pair<double, double>> cumulative;
  for (const auto& [le, v] : *buckets) {
    double bound = 0;
    if (le == "+Inf") {
      bound = INFINITY;
    } else if (!absl::SimpleAtod(le, &bound)) {
      continue;
    }
    cumulative.emplace_back(bound, v);
  }
  std::sort(cumulative.begin(), cumulative.end());
  std::vector<std::pair<double, uint64_t>> out;
  double below = 0;
  for (const auto& [bound, v] : cumulative) {
    out.emplace_back(bound, Count(v - below));
    below = std::max(below, v);
  }
  return out;
}

absl::StatusOr<PoolStats> PrometheusSource::Window(const std::string& route,
                                                   const std::string& pool, absl::Duration window) {
  const PrometheusQueries& q = config_.queries;
  auto requests = Query(Expand(q.requests, route, pool, window), "");
  if (!requests.ok()) return requests.status();
  if (requests->empty()) {
    return absl::NotFoundError(
        absl::StrCat("prometheus has no samples for route=", route, " pool=", pool));
  }
  PoolStats stats;
  stats.requests = Count(requests->begin()->second);
  auto errors = Query(Expand(q.server_errors, route, pool, window), "");
  if (!errors.ok()) return errors.status();
  if (!errors->empty()) stats.server_errors = Count(errors->begin()->second);
  auto latency = Histogram(Expand(q.latency_buckets, route, pool, window));
  if (!latency.ok()) return latency.status();
  stats.latency = *std::move(latency);
  stats.p99_seconds = HistogramQuantile(stats.latency, 0.99);
  auto shadow = Histogram(Expand(q.mirror_latency_buckets, route, pool, window));
  if (!shadow.ok()) return shadow.status();
  stats.mirror_p99_seconds = HistogramQuantile(*shadow, 0.99);
  stats.mirror_latency = *std::move(shadow);
  for (auto [query, p99, hist] :
       {std::tuple{&q.first_message_buckets, &stats.first_message_p99_seconds,
                   &stats.first_message_latency},
        std::tuple{&q.message_gap_buckets, &stats.message_gap_p99_seconds,
                   &stats.message_gap_latency}}) {
    auto buckets = Histogram(Expand(*query, route, pool, window));
    if (!buckets.ok()) return buckets.status();
    *p99 = HistogramQuantile(*buckets, 0.99);
    *hist = *std::move(buckets);
  }
  auto mirror = Query(Expand(q.mirror_results, route, pool, window), "result");
  if (!mirror.ok()) return mirror.status();
  for (const auto& [result, v] : *mirror) {
    if (result == "match") stats.mirror_match = Count(v);
    if (result == "mismatch") stats.mirror_mismatch = Count(v);
    if (result == "error") stats.mirror_errors = Count(v);
  }
  return stats;
}

}  // namespace rollout::control
