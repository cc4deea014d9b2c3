// EtcdWatch: a watch on every key under a prefix, on its own thread, that outlives member
// failures and compaction.
//
// Each batch of events goes to `on_events` in revision order. A stream that is cut is
// opened again from the revision after the last one delivered, on the next member; one
// whose start revision has been compacted away calls `on_relist` (the caller reads the
// whole prefix again and returns the revision it read at) and resumes after it. Streams
// ask for a member with a leader (etcd cancels them when it loses quorum) and for progress
// notices, so a quiet prefix still moves the revision on.
//
//   EtcdWatch watch(client, "/rollout-proxy/", 42, on_events, on_relist);
//
// Thread-safety: the callbacks run on the watch's thread, one at a time; the destructor
// cancels the stream and joins the thread.
#ifndef ROLLOUT_STATE_ETCD_WATCH_H_
#define ROLLOUT_STATE_ETCD_WATCH_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "state/etcd_client.h"

namespace rollout::control {

class EtcdWatch final {
 public:
  using OnEvents = std::function<void(const std::vector<mvccpb::Event>& events)>;
  using OnRelist = std::function<absl::StatusOr<int64_t>()>;

  // Watches from `start_revision` (the revision after what the caller has read).
  EtcdWatch(EtcdClient* client, std::string prefix, int64_t start_revision, OnEvents on_events,
            OnRelist on_relist);
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // True while a stream is open and created.
  bool connected() const { return connected_.load(); }
  // The revision the watch has delivered everything up to.
  int64_t revision() const { return next_.load() - 1; }

 private:
  void Run();
  // One stream, until it ends; false when the watch is stopping.
  bool Stream();

  EtcdClient* const client_;
  const std::string prefix_;
  const OnEvents on_events_;
  const OnRelist on_relist_;
  std::atomic<int64_t> next_;
  std::atomic<bool> connected_{false};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                // guarded by mu_
  grpc::ClientContext* open_ = nullptr;  // guarded by mu_: the stream to cancel
  std::thread thread_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_ETCD_WATCH_H_
