// EtcdCluster: a real etcd cluster (Debian's etcd-server) of one or more members on
// loopback, in a temporary folder, for the state store's tests. Members can be killed,
// paused and restarted on their data, as a fault would.
//
//   EtcdCluster etcd(3);
//   ASSERT_TRUE(etcd.ok()) << etcd.Log(0);
//   ... state_store: { etcd: { endpoints: [etcd.endpoints()...], prefix: /t/ } } ...
//   etcd.Kill(1);
//
// Thread-safety: not thread-safe.
#ifndef ROLLOUT_TESTS_SUPPORT_ETCD_CLUSTER_H_
#define ROLLOUT_TESTS_SUPPORT_ETCD_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "tests/support/child_process.h"

namespace rollout::testing {

class EtcdCluster {
 public:
  // With `tls_dir` set, clients must speak TLS and show a certificate: the members serve
  // tls_dir/etcd.crt (key etcd.key) and trust tls_dir/ca.crt for client certificates.
  explicit EtcdCluster(int members = 1, const std::string& tls_dir = "");
  // True when every member started and said it serves clients.
  bool ok() const { return ok_; }

  std::vector<std::string> endpoints() const;  // each member's host:port for clients
  std::string endpoint(int member) const;
  // `endpoints()` as a YAML flow list: ["127.0.0.1:1", "127.0.0.1:2"]
  std::string EndpointsYaml() const;

  void Kill(int member);  // SIGKILL
  // Starts killed members again on their data (all of them first: a member serves only
  // once it has a quorum); true once every one serves.
  bool Restart(const std::vector<int>& members);
  std::string Log(int member) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::unique_ptr<ChildProcess> process;
  };
  bool Start(int member, bool fresh);

  TempDir dir_;
  std::vector<Member> members_;
  std::string initial_cluster_;
  std::string tls_dir_;
  bool ok_ = false;
};

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_ETCD_CLUSTER_H_
