#include "rollout/replica_windows.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"

namespace rollout::control {
namespace {

constexpr int64_t kNs = 1'000'000'000;
constexpr int kKeptSeconds = metrics::CallSeries::kMaxWindowSeconds;

nlohmann::json Sparse(const std::vector<uint64_t>& buckets) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] != 0) out.push_back({i, buckets[i]});
  }
  return out;
}

void AddSparse(const nlohmann::json& j, std::vector<uint64_t>* into) {
  if (!j.is_array()) return;
  for (const auto& pair : j) {
    if (!pair.is_array() || pair.size() != 2) continue;
    const size_t i = pair[0].get<size_t>();
    if (i < into->size()) (*into)[i] += pair[1].get<uint64_t>();
  }
}

std::string WindowsPrefix(const std::string& prefix) { return prefix + "windows/"; }

}  // namespace

nlohmann::json EncodeCounts(const std::string& route, const std::string& pool,
                            const metrics::WindowCounts& c) {
  return {{"route", route},
          {"pool", pool},
          {"c", c.classes},
          {"b", Sparse(c.buckets)},
          {"x", c.max_ns},
          {"m", c.mirror},
          {"mb", Sparse(c.mirror_buckets)},
          {"mx", c.mirror_max_ns},
          {"fb", Sparse(c.first_buckets)},
          {"fx", c.first_max_ns},
          {"gb", Sparse(c.gap_buckets)},
          {"gx", c.gap_max_ns}};
}

void AddEncodedCounts(const nlohmann::json& j, metrics::WindowCounts* into) {
  const nlohmann::json classes = j.value("c", nlohmann::json::array());
  for (size_t i = 0; i < classes.size() && i < into->classes.size(); ++i) {
    into->classes[i] += classes[i].get<uint64_t>();
  }
  const nlohmann::json mirror = j.value("m", nlohmann::json::array());
  for (size_t i = 0; i < mirror.size() && i < into->mirror.size(); ++i) {
    into->mirror[i] += mirror[i].get<uint64_t>();
  }
  AddSparse(j.value("b", nlohmann::json()), &into->buckets);
  AddSparse(j.value("mb", nlohmann::json()), &into->mirror_buckets);
  into->max_ns = std::max(into->max_ns, j.value("x", uint64_t{0}));
  into->mirror_max_ns = std::max(into->mirror_max_ns, j.value("mx", uint64_t{0}));
  AddSparse(j.value("fb", nlohmann::json()), &into->first_buckets);
  AddSparse(j.value("gb", nlohmann::json()), &into->gap_buckets);
  into->first_max_ns = std::max(into->first_max_ns, j.value("fx", uint64_t{0}));
  into->gap_max_ns = std::max(into->gap_max_ns, j.value("gx", uint64_t{0}));
}

WindowPublisher::WindowPublisher(EtcdClient* client, std::string prefix, std::string replica,
                                 const metrics::CallMetrics* calls, absl::Duration ttl)
    : client_(client),
      prefix_(std::move(prefix)),
      replica_(std::move(replica)),
      calls_(calls),
      ttl_(ttl) {
  last_recorded_ = metrics::MonotonicNowNs() / kNs - 1;
  thread_ = std::thread([this] { Run(); });
}

WindowPublisher::~WindowPublisher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (lease_ != 0) (void)client_->LeaseRevoke(lease_);  // its traffic leaves with it
}

void WindowPublisher::Run() {
  for (;;) {
    // A quarter into each second: the second before is over, and its calls recorded.
    const int64_t now = metrics::MonotonicNowNs();
    const int64_t next = (now / kNs + 1) * kNs + kNs / 4;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock, std::chrono::nanoseconds(next - now), [this] { return stopping_; }))
        return;
    }
    Record();
    if (absl::Status s = Publish(); !s.ok()) {
      log::Debug(absl::StrCat("traffic windows not published: ", s.message()));
    }
  }
}

void WindowPublisher::Record() {
  const int64_t mono_now = metrics::MonotonicNowNs();
  // Monotonic seconds (the windows') to wall-clock ones (shared with other hosts).
  const int64_t offset = static_cast<int64_t>(std::llround(
      static_cast<double>(absl::ToUnixNanos(absl::Now()) - mono_now) / static_cast<double>(kNs)));
  const int64_t done = mono_now / kNs - 1;
  for (int64_t s = std::max(last_recorded_ + 1, done - kKeptSeconds + 1); s <= done; ++s) {
    nlohmann::json series = nlohmann::json::array();
    for (const metrics::CallSeries* cs : calls_->All()) {
      const metrics::WindowCounts c = cs->Counts(absl::Seconds(1), s * kNs);
      uint64_t any = 0;
      for (uint64_t n : c.classes) any += n;
      for (uint64_t n : c.mirror) any += n;
      if (any > 0) series.push_back(EncodeCounts(cs->route(), cs->pool(), c));
    }
    seconds_.emplace_back(s + offset, std::move(series));
  }
  last_recorded_ = std::max(last_recorded_, done);
  while (!seconds_.empty() && seconds_.front().first <= done + offset - kKeptSeconds) {
    seconds_.pop_front();
  }
}

absl::Status WindowPublisher::Publish() {
  if (lease_ != 0) {
    absl::StatusOr<absl::Duration> left = client_->LeaseKeepAlive(lease_);
    if (!left.ok() && left.status().code() == absl::StatusCode::kNotFound) lease_ = 0;
    if (!left.ok() && lease_ != 0) return left.status();
  }
  if (lease_ == 0) {
    absl::StatusOr<etcdserverpb::LeaseGrantResponse> granted = client_->LeaseGrant(ttl_);
    if (!granted.ok()) return granted.status();
    lease_ = granted->id();
  }
  nlohmann::json value = {{"replica", replica_}, {"seconds", nlohmann::json::array()}};
  for (const auto& [t, series] : seconds_) {
    if (!series.empty()) value["seconds"].push_back({{"t", t}, {"series", series}});
  }
  value["last"] = seconds_.empty() ? 0 : seconds_.back().first;
  etcdserverpb::TxnRequest txn;  // a Put, through the client's failover
  etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key(absl::StrCat(WindowsPrefix(prefix_), absl::Hex(lease_)));
  put->set_value(value.dump());
  put->set_lease(lease_);
  absl::StatusOr<etcdserverpb::TxnResponse> done = client_->Txn(txn);
  return done.status();
}

absl::StatusOr<std::vector<nlohmann::json>> SharedWindowSource::ReadAll() {
  etcdserverpb::RangeRequest range;
  range.set_key(WindowsPrefix(prefix_));
  range.set_range_end(PrefixEnd(WindowsPrefix(prefix_)));
  absl::StatusOr<etcdserverpb::RangeResponse> got = client_->Range(range);
  if (!got.ok()) return got.status();
  std::vector<nlohmann::json> out;
  for (const mvccpb::KeyValue& kv : got->kvs()) {
    nlohmann::json j = nlohmann::json::parse(kv.value(), nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

absl::StatusOr<PoolStats> SharedWindowSource::Window(const std::string& route,
                                                     const std::string& pool,
                                                     absl::Duration window) {
  absl::StatusOr<std::vector<nlohmann::json>> replicas = ReadAll();
  if (!replicas.ok()) return replicas.status();  // no data: the engine holds
  const int64_t seconds = std::clamp<int64_t>(
      absl::ToInt64Seconds(absl::Ceil(window, absl::Seconds(1))), 1, kKeptSeconds);
  const int64_t last = absl::ToUnixSeconds(absl::Now()) - 3;
  const int64_t first = last - seconds + 1;
  metrics::WindowCounts sum = metrics::EmptyCounts(absl::Seconds(seconds));
  int contributing = 0;
  for (const nlohmann::json& r : *replicas) {
    // A live replica that has not published up to the window's end would leave its calls
    // out: hold rather than judge part of the traffic.
    if (r.value("last", int64_t{0}) < last) {
      return absl::UnavailableError(absl::StrCat(
          "replica ", r.value("replica", "?"), " has published its traffic only up to ",
          absl::FormatTime(absl::RFC3339_full, absl::FromUnixSeconds(r.value("last", int64_t{0})),
                           absl::UTCTimeZone()),
          "; not judging part of the calls"));
    }
    bool counted = false;
    for (const auto& second : r.value("seconds", nlohmann::json::array())) {
      const int64_t t = second.value("t", int64_t{0});
      if (t < first || t > last) continue;
      for (const auto& s : second.value("series", nlohmann::json::array())) {
        if (s.value("route", "") != route || s.value("pool", "") != pool) continue;
        AddEncodedCounts(s, &sum);
        counted = true;
      }
    }
    contributing += counted;
  }
  if (replicas->empty()) {
    return absl::UnavailableError("no replica has published its traffic windows yet");
  }
  PoolStats stats = ToPoolStats(metrics::Summarize(std::move(sum)));
  stats.replicas = contributing;
  return stats;
}

absl::StatusOr<std::vector<ReplicaWindow>> SharedWindowSource::Replicas() {
  absl::StatusOr<std::vector<nlohmann::json>> all = ReadAll();
  if (!all.ok()) return all.status();
  std::vector<ReplicaWindow> out;
  for (const nlohmann::json& r : *all) {
    out.push_back({r.value("replica", ""), r.value("last", int64_t{0})});
  }
  std::sort(out.begin(), out.end(),
            [](const ReplicaWindow& a, const ReplicaWindow& b) { return a.replica < b.replica; });
  return out;
}

}  // namespace rollout::control
