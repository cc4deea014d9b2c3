#include "dashboard/traffic_history.h"

#include "absl/time/clock.h"

namespace rollout::dashboard {

TrafficHistory::TrafficHistory(const metrics::CallMetrics* calls) : calls_(calls) {
  thread_ = std::thread([this] { Run(); });
}

TrafficHistory::~TrafficHistory() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void TrafficHistory::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    Sample(absl::Now());
    lock.lock();
    wake_.wait_for(lock, absl::ToChronoMilliseconds(kStep), [this] { return stop_; });
  }
}

void TrafficHistory::Sample(absl::Time now) {
  const int64_t mono = metrics::MonotonicNowNs();
  for (const metrics::CallSeries* s : calls_->All()) {
    const metrics::CallSeries::Totals totals = s->Sum();
    uint64_t calls = 0, errors = 0;
    for (int code = 0; code < metrics::kNumGrpcCodes; ++code) {
      calls += totals.requests[code];
      if (metrics::ClassOf(code) == metrics::CodeClass::kServerError) {
        errors += totals.requests[code];
      }
    }
    const metrics::WindowSnapshot w = s->Snapshot(absl::Seconds(5), mono);
    std::lock_guard<std::mutex> lock(mu_);
    Series& series = series_[{s->route(), s->pool()}];
    if (series.at != absl::InfinitePast()) {
      const double seconds = absl::ToDoubleSeconds(now - series.at);
      Point p;
      p.unix_seconds = absl::ToUnixSeconds(now);
      const uint64_t new_calls = calls - series.calls;
      p.calls_per_second = seconds > 0 ? static_cast<double>(new_calls) / seconds : 0;
      p.error_rate = new_calls > 0 ? static_cast<double>(errors - series.errors) /
                                         static_cast<double>(new_calls)
                                   : 0;
      p.p99_seconds = absl::ToDoubleSeconds(w.p99);
      if (w.first_timed > 0) p.first_p99_seconds = absl::ToDoubleSeconds(w.first_p99);
      series.points.push_back(p);
      if (series.points.size() > kPoints) series.points.pop_front();
    }
    series.calls = calls;
    series.errors = errors;
    series.at = now;
  }
}

nlohmann::json TrafficHistory::Json() const {
  nlohmann::json out = {{"step_seconds", absl::ToInt64Seconds(kStep)},
                        {"series", nlohmann::json::array()}};
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, series] : series_) {
    nlohmann::json points = nlohmann::json::array();
    for (const Point& p : series.points) {
      const nlohmann::json first =
          p.first_p99_seconds < 0 ? nlohmann::json() : nlohmann::json(p.first_p99_seconds);
      points.push_back({p.unix_seconds, p.calls_per_second, p.error_rate, p.p99_seconds, first});
    }
    out["series"].push_back({{"route", key.first}, {"pool", key.second}, {"points", points}});
  }
  return out;
}

}  // namespace rollout::dashboard
