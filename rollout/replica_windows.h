// Traffic windows shared through etcd, so that the rollout engine judges the calls of every
// replica (state_store.etcd), not only its own leader's.
//
// WindowPublisher: each second, this replica writes the counts of its last 60 whole seconds
// (per route and pool: calls by code class, latency buckets, shadow results) under
// <prefix>windows/<its lease>, on a lease of its own: when the replica dies, its key
// expires with the lease and its traffic drops out.
//
// SharedWindowSource: the MetricSource the engine uses then. A window is the sum, over the
// live replicas' keys, of the whole seconds that end three seconds ago (a second is published
// once it is over, within the next second). Seconds are wall-clock seconds, so replicas on
// different hosts add up the same seconds. A live replica that has not published up to the
// window's end makes the window UNAVAILABLE (the engine holds): the engine never judges part
// of the traffic as if it were all of it.
//
//   WindowPublisher publisher(client, "/rollout-proxy/prod/", "pid 7 on host-a", calls, ttl);
//   SharedWindowSource source(client, "/rollout-proxy/prod/");
//   absl::StatusOr<PoolStats> v2 = source.Window("infer", "v2", absl::Seconds(30));
//
// Thread-safety: both are thread-safe; the publisher's destructor revokes its lease.
#ifndef ROLLOUT_ROLLOUT_REPLICA_WINDOWS_H_
#define ROLLOUT_ROLLOUT_REPLICA_WINDOWS_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "metrics/call_metrics.h"
#include "rollout/metric_source.h"
#include "state/etcd_client.h"

namespace rollout::control {

class WindowPublisher final {
 public:
  WindowPublisher(EtcdClient* client, std::string prefix, std::string replica,
                  const metrics::CallMetrics* calls, absl::Duration ttl);
  ~WindowPublisher();
  WindowPublisher(const WindowPublisher&) = delete;
  WindowPublisher& operator=(const WindowPublisher&) = delete;

 private:
  void Run();
  // Adds the second that just ended to the kept ones, and drops those over 60 s old.
  void Record();
  absl::Status Publish();

  EtcdClient* const client_;
  const std::string prefix_;
  const std::string replica_;
  const metrics::CallMetrics* const calls_;
  const absl::Duration ttl_;
  std::deque<std::pair<int64_t, nlohmann::json>> seconds_;  // (unix second, its series)
  int64_t last_recorded_ = 0;                               // monotonic second
  int64_t lease_ = 0;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

struct ReplicaWindow {
  std::string replica;      // as it names itself
  int64_t last_second = 0;  // the newest second it published (unix)
};

class SharedWindowSource final : public MetricSource {
 public:
  SharedWindowSource(EtcdClient* client, std::string prefix)
      : client_(client), prefix_(std::move(prefix)) {}

  absl::StatusOr<PoolStats> Window(const std::string& route, const std::string& pool,
                                   absl::Duration window) override;
  std::string name() const override { return "replicas"; }

  // The replicas whose windows are in the store now (live leases).
  absl::StatusOr<std::vector<ReplicaWindow>> Replicas();

 private:
  absl::StatusOr<std::vector<nlohmann::json>> ReadAll();

  EtcdClient* const client_;
  const std::string prefix_;
};

// One (route, pool)'s counts of one second, and back, as the publisher writes them.
nlohmann::json EncodeCounts(const std::string& route, const std::string& pool,
                            const metrics::WindowCounts& counts);
void AddEncodedCounts(const nlohmann::json& j, metrics::WindowCounts* into);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_REPLICA_WINDOWS_H_
