// EtcdElection: this replica's candidacy to run the rollout engine, through etcd's election
// API (Campaign, Leader, Resign) on a lease of its own.
//
// Its thread keeps the lease alive every ttl/3 and campaigns while it does not lead; a
// second thread observes the election (Observe), so every replica knows who leads. It
// leads from a successful Campaign until its lease cannot be renewed: a keep-alive that
// finds the lease gone, or no successful renewal for a whole ttl (a partition, or a process
// paused with SIGSTOP: the first thing it does when it runs again is step down). Every
// decision the leader writes carries fence() (EtcdStore checks the key's creation revision
// in the same transaction), so a leader that stepped down late still cannot write.
//
//   EtcdElection election(client, "/rollout-proxy/prod/leader", "pid 7 on host-a", ttl,
//                         on_elected, on_deposed);
//
// Thread-safety: thread-safe; the callbacks run on the election's thread. The destructor
// resigns (so a successor takes over at once) and joins the thread.
#ifndef ROLLOUT_STATE_ETCD_ELECTION_H_
#define ROLLOUT_STATE_ETCD_ELECTION_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "state/etcd_client.h"
#include "state/state_backend.h"

namespace rollout::control {

class EtcdElection final {
 public:
  using OnElected = std::function<void(const Fence& fence)>;
  using OnDeposed = std::function<void(const std::string& why)>;
  // Another replica is seen leading (its value), or none ("").
  using OnLeader = std::function<void(const std::string& leader)>;

  EtcdElection(EtcdClient* client, std::string name, std::string value, absl::Duration ttl,
               OnElected on_elected, OnDeposed on_deposed, OnLeader on_leader = nullptr);
  ~EtcdElection();
  EtcdElection(const EtcdElection&) = delete;
  EtcdElection& operator=(const EtcdElection&) = delete;

  bool leading() const;
  std::optional<Fence> fence() const;
  // The leader's value as last seen ("" when unknown or none).
  std::string leader() const;

 private:
  void Run();
  // One turn while not leading: a lease, then a campaign of up to ttl/3.
  void Campaign();
  // One turn while leading: renew the lease, or step down.
  void Renew();
  void StepDown(const std::string& why);
  // Waits `d` unless stopping; false when stopping.
  bool Wait(absl::Duration d);
  // The observer's thread: Observe streams, again after each ends.
  void Observe();
  void SawLeader(const std::string& leader);

  EtcdClient* const client_;
  const std::string name_;
  const std::string value_;
  const absl::Duration ttl_;
  const OnElected on_elected_;
  const OnDeposed on_deposed_;
  const OnLeader on_leader_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                       // guarded by mu_
  int64_t lease_ = 0;                           // guarded by mu_; 0: none
  absl::Time renewed_;                          // guarded by mu_: the last successful renewal
  std::optional<v3electionpb::LeaderKey> key_;  // guarded by mu_: set while leading
  std::string leader_;                          // guarded by mu_
  std::string observed_;                        // guarded by mu_: the last leader Observe named
  grpc::ClientContext* observing_ = nullptr;    // guarded by mu_: the stream to cancel
  std::thread thread_;
  std::thread observer_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_ETCD_ELECTION_H_
