#include "rollout/pool_stats.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace rollout::control {

std::vector<AlignedBin> Align(const Histogram& a, const Histogram& b) {
  std::vector<AlignedBin> out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      out.push_back({a[i].first, a[i].second, 0});
      ++i;
    } else if (i == a.size() || b[j].first < a[i].first) {
      out.push_back({b[j].first, 0, b[j].second});
      ++j;
    } else {
      out.push_back({a[i].first, a[i].second, b[j].second});
      ++i;
      ++j;
    }
  }
  return out;
}

Histogram Merged(const Histogram& a, const Histogram& b) {
  Histogram merged;
  for (const AlignedBin& bin : Align(a, b)) merged.emplace_back(bin.bound, bin.a + bin.b);
  return merged;
}

void PoolStats::Add(const PoolStats& other) {
  requests += other.requests;
  server_errors += other.server_errors;
  mirror_match += other.mirror_match;
  mirror_mismatch += other.mirror_mismatch;
  mirror_errors += other.mirror_errors;
  replicas = std::max(replicas, other.replicas);
  latency = Merged(latency, other.latency);
  first_message_latency = Merged(first_message_latency, other.first_message_latency);
  message_gap_latency = Merged(message_gap_latency, other.message_gap_latency);
  mirror_latency = Merged(mirror_latency, other.mirror_latency);
  for (auto [p99, h, later] :
       {std::tuple{&p99_seconds, &latency, &other.p99_seconds},
        std::tuple{&first_message_p99_seconds, &first_message_latency,
                   &other.first_message_p99_seconds},
        std::tuple{&message_gap_p99_seconds, &message_gap_latency, &other.message_gap_p99_seconds},
        std::tuple{&mirror_p99_seconds, &mirror_latency, &other.mirror_p99_seconds}}) {
    *p99 = HistogramQuantile(*h, 0.99);
    if (!p99->has_value()) *p99 = *later;
  }
}

nlohmann::json PoolStats::ToJson() const {
  nlohmann::json j = {{"requests", requests},
                      {"server_errors", server_errors},
                      {"error_rate", ErrorRate()},
                      {"mirror_match", mirror_match},
                      {"mirror_mismatch", mirror_mismatch},
                      {"mirror_errors", mirror_errors}};
  if (p99_seconds.has_value()) j["p99_seconds"] = *p99_seconds;
  if (mirror_p99_seconds.has_value()) j["mirror_p99_seconds"] = *mirror_p99_seconds;
  if (first_message_p99_seconds.has_value()) {
    j["first_message_p99_seconds"] = *first_message_p99_seconds;
  }
  if (message_gap_p99_seconds.has_value()) j["message_gap_p99_seconds"] = *message_gap_p99_seconds;
  if (!latency.empty()) j["latency"] = latency;
  if (!first_message_latency.empty()) j["first_message_latency"] = first_message_latency;
  if (!message_gap_latency.empty()) j["message_gap_latency"] = message_gap_latency;
  if (!mirror_latency.empty()) j["mirror_latency"] = mirror_latency;
  if (replicas > 0) j["replicas"] = replicas;
  return j;
}

PoolStats PoolStats::FromJson(const nlohmann::json& j) {
  PoolStats s;
  s.requests = j.value("requests", uint64_t{0});
  s.server_errors = j.value("server_errors", uint64_t{0});
  s.mirror_match = j.value("mirror_match", uint64_t{0});
  s.mirror_mismatch = j.value("mirror_mismatch", uint64_t{0});
  s.mirror_errors = j.value("mirror_errors", uint64_t{0});
  if (j.contains("p99_seconds")) s.p99_seconds = j["p99_seconds"].get<double>();
  if (j.contains("mirror_p99_seconds")) {
    s.mirror_p99_seconds = j["mirror_p99_seconds"].get<double>();
  }
  if (j.contains("first_message_p99_seconds")) {
    s.first_message_p99_seconds = j["first_message_p99_seconds"].get<double>();
  }
  if (j.contains("message_gap_p99_seconds")) {
    s.message_gap_p99_seconds = j["message_gap_p99_seconds"].get<double>();
  }
  s.replicas = j.value("replicas", 0);
  using Histogram = Histogram;
  if (j.contains("latency")) s.latency = j["latency"].get<Histogram>();
  if (j.contains("first_message_latency")) {
    s.first_message_latency = j["first_message_latency"].get<Histogram>();
  }
  if (j.contains("message_gap_latency")) {
    s.message_gap_latency = j["message_gap_latency"].get<Histogram>();
  }
  if (j.contains("mirror_latency")) s.mirror_latency = j["mirror_latency"].get<Histogram>();
  return s;
}

uint64_t HistogramCount(const Histogram& h) {
  uint64_t count = 0;
  for (const auto& bin : h) count += bin.second;
  return count;
}

nlohmann::json PoolStats::CountsJson() const {
  nlohmann::json j = {{"requests", requests}, {"server_errors", server_errors}};
  if (replicas > 0) j["replicas"] = replicas;
  return j;
}

std::optional<double> HistogramQuantile(const Histogram& h, double q) {
  const uint64_t count = HistogramCount(h);
  if (count == 0) return std::nullopt;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count)));
  uint64_t seen = 0;
  double lower = 0;
  for (const auto& [bound, n] : h) {
    if (seen + n >= rank && n > 0) {
      if (!std::isfinite(bound)) return lower;  // +Inf bucket: its lower bound, as Prometheus
      // Linear within the bucket, as Prometheus' histogram_quantile does.
      return lower + (bound - lower) * static_cast<double>(rank - seen) / n;
    }
    seen += n;
    lower = bound;
  }
  return lower;
}

}  // namespace rollout::control
