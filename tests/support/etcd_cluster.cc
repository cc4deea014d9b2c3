#include "tests/support/etcd_cluster.h"

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/support/http_get.h"

namespace rollout::testing {
namespace {

constexpr char kEtcdBin[] = "/usr/bin/etcd";

std::string Url(int port) { return absl::StrCat("http://127.0.0.1:", port); }

}  // namespace

EtcdCluster::EtcdCluster(int members, const std::string& tls_dir) : tls_dir_(tls_dir) {
  std::vector<std::string> peers;
  const std::vector<int> ports = UnusedPorts(2 * members);
  for (int i = 0; i < members; ++i) {
    Member m;
    m.name = absl::StrCat("m", i);
    m.client_port = ports[2 * i];
    m.peer_port = ports[2 * i + 1];
    peers.push_back(absl::StrCat(m.name, "=", Url(m.peer_port)));
    members_.push_back(std::move(m));
  }
  initial_cluster_ = absl::StrJoin(peers, ",");
  ok_ = true;
  for (int i = 0; i < members; ++i) ok_ = Start(i, /*fresh=*/true) && ok_;
  for (int i = 0; ok_ && i < members; ++i) {
    ok_ = !members_[i]
               .process->WaitForLine("ready to serve client requests", absl::Seconds(30))
               .empty();
  }
}

bool EtcdCluster::Start(int member, bool fresh) {
  Member& m = members_[member];
  const std::string client_url =
      tls_dir_.empty() ? Url(m.client_port) : absl::StrCat("https://127.0.0.1:", m.client_port);
  std::vector<std::string> argv = {
      kEtcdBin, "--name", m.name, "--data-dir", absl::StrCat(dir_.path(), "/", m.name),
      "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
      "--listen-peer-urls", Url(m.peer_port), "--initial-advertise-peer-urls", Url(m.peer_port),
      "--initial-cluster", initial_cluster_, "--initial-cluster-state", fresh ? "new" : "existing",
      "--initial-cluster-token", "rollout-proxy-test",
      // Fast elections, so a failover test waits for the proxy, not for etcd.
      "--heartbeat-interval", "50", "--election-timeout", "500"};
  if (!tls_dir_.empty()) {
    argv.insert(argv.end(),
                {"--cert-file", tls_dir_ + "/etcd.crt", "--key-file", tls_dir_ + "/etcd.key",
                 "--trusted-ca-file", tls_dir_ + "/ca.crt", "--client-cert-auth"});
  }
  m.process = std::make_unique<ChildProcess>(std::move(argv));
  return m.process->running();
}

bool EtcdCluster::Restart(const std::vector<int>& members) {
  for (int m : members) {
    members_[m].process.reset();
    if (!Start(m, /*fresh=*/false)) return false;
  }
  for (int m : members) {
    if (members_[m]
            .process->WaitForLine("ready to serve client requests", absl::Seconds(30))
            .empty()) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (int i = 0; i < static_cast<int>(members_.size()); ++i) out.push_back(endpoint(i));
  return out;
}

std::string EtcdCluster::endpoint(int member) const {
  return absl::StrCat("127.0.0.1:", members_[member].client_port);
}

std::string EtcdCluster::EndpointsYaml() const {
  std::vector<std::string> quoted;
  for (const std::string& e : endpoints()) quoted.push_back(absl::StrCat("\"", e, "\""));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

void EtcdCluster::Kill(int member) { members_[member].process->Signal(SIGKILL); }

std::string EtcdCluster::Log(int member) const { return members_[member].process->Log(); }

}  // namespace rollout::testing
