// PoolStats: one pool's traffic over a window (or several added up), as analysis reads
// it from a metric source; and the sparse latency histograms it carries, with the
// functions over them that analysis needs (quantiles, merging, aligning two of them).
//
// Thread-safety: plain values and pure functions.
#ifndef ROLLOUT_ROLLOUT_POOL_STATS_H_
#define ROLLOUT_ROLLOUT_POOL_STATS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

namespace rollout::control {

// A histogram, not cumulative: (upper bound in seconds, count), rising bounds; sparse.
using Histogram = std::vector<std::pair<double, uint64_t>>;

// One pool's traffic over a window, as a metric source reports it.
struct PoolStats {
  uint64_t requests = 0;              // answered calls (client cancels excluded)
  uint64_t server_errors = 0;         // of those, the ones that count against the version
  std::optional<double> p99_seconds;  // unset when unknown
  // Shadow calls to this pool: answers that matched or not, and shadow calls that failed.
  uint64_t mirror_match = 0;
  uint64_t mirror_mismatch = 0;
  uint64_t mirror_errors = 0;
  std::optional<double> mirror_p99_seconds;  // the shadow calls' own p99; unset when unknown
  // The response messages' p99s: from the request headers to the first one (time to first
  // token), and between later ones; unset when no message was timed.
  std::optional<double> first_message_p99_seconds;
  std::optional<double> message_gap_p99_seconds;
  // Latency histogram, not cumulative: (upper bound in seconds, count), rising bounds.
  Histogram latency;
  // The same of the times to the first response message, and of the gaps after it.
  Histogram first_message_latency;
  Histogram message_gap_latency;
  Histogram mirror_latency;  // the shadow calls' own
  // How many replicas' traffic this sums (state_store.etcd); 0: this process's only.
  int replicas = 0;

  double ErrorRate() const { return requests == 0 ? 0.0 : double(server_errors) / requests; }
  uint64_t MirrorTotal() const { return mirror_match + mirror_mismatch + mirror_errors; }
  // Adds `other` (a later window) to this one; the p99s are recomputed from the histograms
  // (where a source gave none, the later window's p99 stands).
  void Add(const PoolStats& other);
  nlohmann::json ToJson() const;
  // The counts alone, for a decision's record: requests, server_errors (and replicas).
  nlohmann::json CountsJson() const;
  static PoolStats FromJson(const nlohmann::json& j);
};

// The values in a histogram.
uint64_t HistogramCount(const Histogram& h);
// The value at quantile q of a non-cumulative histogram; nullopt when it is empty.
std::optional<double> HistogramQuantile(const Histogram& h, double q);

// The two histograms over the union of their bounds: (bound, count in a, count in b).
struct AlignedBin {
  double bound;
  uint64_t a, b;
};
std::vector<AlignedBin> Align(const Histogram& a, const Histogram& b);
// Their sum, bin by bin.
Histogram Merged(const Histogram& a, const Histogram& b);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_POOL_STATS_H_
