#include "rollout/metric_source.h"

#include "absl/strings/str_cat.h"

namespace rollout::control {
namespace {

// Window bins (nanoseconds, in `Buckets`) as a sparse histogram of seconds.
template <typename Buckets>
std::vector<std::pair<double, uint64_t>> SecondsHistogram(const std::vector<uint64_t>& bins) {
  std::vector<std::pair<double, uint64_t>> h;
  for (size_t i = 0; i < bins.size(); ++i) {
    if (bins[i] == 0) continue;  // sparse
    h.emplace_back(static_cast<double>(Buckets::LowerBound(i) + Buckets::Width(i)) / 1e9, bins[i]);
  }
  return h;
}

}  // namespace

PoolStats ToPoolStats(const metrics::WindowSnapshot& s) {
  using metrics::MirrorResult;
  PoolStats p;
  p.requests = s.requests - s.cancelled;
  p.server_errors = s.server_errors;
  if (s.requests > 0) p.p99_seconds = absl::ToDoubleSeconds(s.p99);
  p.mirror_match = s.mirror[static_cast<int>(MirrorResult::kMatch)];
  p.mirror_mismatch = s.mirror[static_cast<int>(MirrorResult::kMismatch)];
  p.mirror_errors = s.mirror[static_cast<int>(MirrorResult::kError)];
  if (s.mirror_timed > 0) p.mirror_p99_seconds = absl::ToDoubleSeconds(s.mirror_p99);
  if (s.first_timed > 0) p.first_message_p99_seconds = absl::ToDoubleSeconds(s.first_p99);
  if (s.gap_timed > 0) p.message_gap_p99_seconds = absl::ToDoubleSeconds(s.gap_p99);
  using metrics::CallSeries;
  p.latency = SecondsHistogram<CallSeries::WindowBuckets>(s.latency_bins);
  p.first_message_latency = SecondsHistogram<CallSeries::StreamWindowBuckets>(s.first_bins);
  p.message_gap_latency = SecondsHistogram<CallSeries::StreamWindowBuckets>(s.gap_bins);
  p.mirror_latency = SecondsHistogram<CallSeries::MirrorWindowBuckets>(s.mirror_bins);
  return p;
}

absl::StatusOr<PoolStats> InProcessSource::Window(const std::string& route, const std::string& pool,
                                                  absl::Duration window) {
  // Windows are kept per second, and the current second has only just begun: one more
  // second makes the window hold `window` of whole seconds plus the current part.
  std::optional<metrics::WindowSnapshot> s =
      calls_->Snapshot(route, pool, window + absl::Seconds(1));
  if (!s.has_value()) {
    return absl::NotFoundError(absl::StrCat("no call was ever routed to ", route, "/", pool));
  }
  return ToPoolStats(*s);
}

}  // namespace rollout::control
