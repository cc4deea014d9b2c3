// ProxyProcess: a real rollout-proxy process started from a YAML config for tests.
//
//   ProxyProcess proxy(R"(listen: 127.0.0.1:0
//   pools: [{name: a, endpoints: ["127.0.0.1:1234"]}]
//   routes: [{name: all, split: [{pool: a, weight: 1}]}])");
//   ASSERT_TRUE(proxy.ok()) << proxy.Log();
//   auto stub = Echo::NewStub(proxy.NewChannel());
//
// Thread-safety: not thread-safe.
#ifndef ROLLOUT_TESTS_SUPPORT_PROXY_PROCESS_H_
#define ROLLOUT_TESTS_SUPPORT_PROXY_PROCESS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "tests/support/child_process.h"

namespace rollout::testing {

// Paths of the binaries under test, set by CMake.
inline constexpr char kProxyBin[] = ROLLOUT_PROXY_BIN;
inline constexpr char kDemoServerBin[] = DEMO_MODEL_SERVER_BIN;
inline constexpr char kDemoClientBin[] = DEMO_CLIENT_BIN;
inline constexpr char kRolloutctlBin[] = ROLLOUTCTL_BIN;

class ProxyProcess {
 public:
  explicit ProxyProcess(const std::string& config_yaml);

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The metrics port, or 0 when the config has no metrics listener.
  int metrics_port() const { return metrics_port_; }
  // The admin port, or 0 when the config has no admin listener.
  int admin_port() const { return admin_port_; }
  std::string admin_address() const { return "127.0.0.1:" + std::to_string(admin_port_); }
  // The dashboard port, or 0 when the config has no dashboard.
  int dashboard_port() const { return dashboard_port_; }
  std::string Log() const { return process_->Log(); }
  ChildProcess& process() { return *process_; }
  const std::string& config_path() const { return config_path_; }

  // A new channel with its own connection (no subchannel sharing between channels).
  std::shared_ptr<grpc::Channel> NewChannel() const;

 private:
  TempDir dir_;
  std::string config_path_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
  int metrics_port_ = 0;
  int admin_port_ = 0;
  int dashboard_port_ = 0;
};

// Starts demo-model-server with `args` (e.g. {"--version", "v2"}) on a free port.
class DemoServerProcess {
 public:
  explicit DemoServerProcess(std::vector<std::string> args);
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  ChildProcess& process() { return *process_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_PROXY_PROCESS_H_
