// TrafficHistory: the last 5 minutes of each (route, pool)'s traffic, for the dashboard's
// charts. Every kStep it reads the proxy's call metrics and keeps one point per series:
// calls/s and the server-error rate (from the cumulative counters, so nothing between two
// points is missed), and the p99 and time-to-first-message p99 of the last 5 seconds.
//
//   TrafficHistory history(&call_metrics);     // starts its sampling thread
//   nlohmann::json charts = history.Json();    // {"step_seconds":2,"series":[...]}
//
// Thread-safety: thread-safe. The destructor stops the thread.
#ifndef ROLLOUT_DASHBOARD_TRAFFIC_HISTORY_H_
#define ROLLOUT_DASHBOARD_TRAFFIC_HISTORY_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "metrics/call_metrics.h"

namespace rollout::dashboard {

class TrafficHistory final {
 public:
  static constexpr absl::Duration kStep = absl::Seconds(2);
  static constexpr size_t kPoints = 150;  // 5 minutes

  struct Point {
    int64_t unix_seconds = 0;
    double calls_per_second = 0;
    double error_rate = 0;          // server-class codes / calls; 0 with no calls
    double p99_seconds = 0;         // of the last 5 s; 0 with no calls
    double first_p99_seconds = -1;  // -1: no response message began
  };

  explicit TrafficHistory(const metrics::CallMetrics* calls);
  ~TrafficHistory();
  TrafficHistory(const TrafficHistory&) = delete;
  TrafficHistory& operator=(const TrafficHistory&) = delete;

  // Takes one point of every series now (the thread does this every kStep).
  void Sample(absl::Time now);
  // {"step_seconds": 2, "series": [{"route", "pool", "points": [[t, calls/s, error rate,
  // p99 s, first-message p99 s or null], ...]}]}, oldest point first.
  nlohmann::json Json() const;

 private:
  struct Series {
    uint64_t calls = 0;  // the cumulative counts at the last point
    uint64_t errors = 0;
    absl::Time at = absl::InfinitePast();
    std::deque<Point> points;
  };
  void Run();

  const metrics::CallMetrics* const calls_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Series> series_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace rollout::dashboard

#endif  // ROLLOUT_DASHBOARD_TRAFFIC_HISTORY_H_
