// EtcdStore: the desired state and the audit log in etcd, shared by every replica, under
// one prefix:
//   <prefix>state            the PersistedState, as JSON (state.json's format)
//   <prefix>audit/<seq>      one audit entry each; seq zero-padded, so keys sort in order
//
// A commit is one transaction: it puts the state and its audit entry only if the state key
// is still at the revision the change was computed from, and otherwise answers a
// StoreConflict. Every write carries a commit id, so a commit whose answer was lost (a
// member died mid-call) is found landed rather than reported as a conflict.
//
// Watch() follows the prefix from the revision Load() read at: other replicas' commits
// reach on_state, and their audit entries the in-memory mirror that audit() reads, so
// reading the log costs no etcd call.
//
//   auto store = EtcdStore::Connect({.endpoints = {"127.0.0.1:2379"}}, "/rollout-proxy/");
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_STATE_ETCD_STORE_H_
#define ROLLOUT_STATE_ETCD_STORE_H_

#include <memory>
#include <string>

#include "state/etcd_client.h"
#include "state/etcd_watch.h"
#include "state/state_backend.h"

namespace rollout::control {

class EtcdStore final : public StateBackend {
 public:
  // Connects and checks that the cluster answers (UNAVAILABLE naming the endpoints if not).
  static absl::StatusOr<std::unique_ptr<EtcdStore>> Connect(EtcdClient::Options options,
                                                            std::string prefix);
  ~EtcdStore() override;

  absl::StatusOr<std::optional<PersistedState>> Load() override;
  absl::Status Commit(PersistedState* next, const AuditEntry* entry,
                      const Fence* fence = nullptr) override;
  absl::StatusOr<std::string> Quarantine() override;
  AuditLog& audit() override { return *audit_; }
  void Watch(std::function<void(PersistedState)> on_state) override;
  void StopWatch() override { watch_.reset(); }
  std::string where() const override;
  bool durable() const override { return true; }
  bool shared() const override { return true; }

  EtcdClient* client() { return client_.get(); }
  const std::string& prefix() const { return prefix_; }
  std::string state_key() const { return prefix_ + "state"; }
  // True while the watch has a stream open.
  bool connected() const;
  // The last revision this replica has seen of the store.
  int64_t revision() const;

 private:
  EtcdStore(std::unique_ptr<EtcdClient> client, std::string prefix, std::unique_ptr<AuditLog> audit)
      : client_(std::move(client)), prefix_(std::move(prefix)), audit_(std::move(audit)) {}

  absl::StatusOr<int64_t> LoadAudit();
  void OnEvents(const std::vector<mvccpb::Event>& events);
  // What the store holds now: has our commit `id` landed? (After an ambiguous failure.)
  absl::StatusOr<std::optional<int64_t>> FindCommit(const std::string& id);
  std::optional<int64_t> FindLanded(const std::string& id);  // nullopt also when unsure
  absl::Status Unreachable(const absl::Status& cause) const;

  std::unique_ptr<EtcdClient> client_;
  const std::string prefix_;
  std::unique_ptr<AuditLog> audit_;
  std::atomic<int64_t> loaded_at_{0};
  std::atomic<int64_t> seen_{0};
  std::function<void(PersistedState)> on_state_;
  std::unique_ptr<EtcdWatch> watch_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_ETCD_STORE_H_
