#include "tests/support/proxy_process.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rollout::testing {

ProxyProcess::ProxyProcess(const std::string& config_yaml)
    : config_path_(dir_.WriteFile("proxy.yaml", config_yaml)) {
  process_ =
      std::make_unique<ChildProcess>(std::vector<std::string>{kProxyBin, "--config", config_path_});
  const std::string port =
      process_->WaitForLine(R"(data plane listening on [0-9.]+:(\d+))", absl::Seconds(20));
  if (!absl::SimpleAtoi(port, &port_)) port_ = 0;
  // Printed before the data plane line, so it is there by now if configured.
  const std::string metrics =
      process_->WaitForLine(R"(metrics listening on [0-9.]+:(\d+))", absl::ZeroDuration());
  if (!absl::SimpleAtoi(metrics, &metrics_port_)) metrics_port_ = 0;
  const std::string admin =
      process_->WaitForLine(R"(admin listening on [0-9.]+:(\d+))", absl::ZeroDuration());
  if (!absl::SimpleAtoi(admin, &admin_port_)) admin_port_ = 0;
  const std::string dashboard =
      process_->WaitForLine(R"(dashboard listening on http://[0-9.]+:(\d+))", absl::ZeroDuration());
  if (!absl::SimpleAtoi(dashboard, &dashboard_port_)) dashboard_port_ = 0;
}

std::shared_ptr<grpc::Channel> ProxyProcess::NewChannel() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
}

DemoServerProcess::DemoServerProcess(std::vector<std::string> args) {
  args.insert(args.begin(), {kDemoServerBin, "--port", "0"});
  process_ = std::make_unique<ChildProcess>(args);
  const std::string port =
      process_->WaitForLine(R"(listening on [0-9.]+:(\d+))", absl::Seconds(10));
  if (!absl::SimpleAtoi(port, &port_)) port_ = 0;
}

}  // namespace rollout::testing
