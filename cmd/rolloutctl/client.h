// Client: rolloutctl's connection to one proxy's admin API: the channel (plaintext, TLS or
// mTLS), the bearer token and deadline on every call, and how a failed call is reported
// (text on stderr, or JSON on stdout with --json) as an exit code.
//
// Thread-safety: one thread (a CLI run).
#ifndef ROLLOUT_CMD_ROLLOUTCTL_CLIENT_H_
#define ROLLOUT_CMD_ROLLOUTCTL_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "rollout/admin/v1/admin.grpc.pb.h"
#include "routing/tls_spec.h"

namespace rollout::ctl {

namespace v1 = ::rollout::admin::v1;

// Exit codes: 0 ok, 1 rejected by the proxy, 2 usage error, 3 proxy unreachable.
inline constexpr int kOk = 0, kRejected = 1, kUsage = 2, kUnreachable = 3;

// The global flags, accepted before or after the verb.
struct Options {
  std::string admin = "127.0.0.1:8501";
  std::string token_file;
  bool json = false;
  std::string timeout = "5s";
  bool tls_flag = false;         // --tls
  routing::UpstreamTlsSpec tls;  // --tls-*: TLS (mTLS with a certificate) to the proxy
};

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target, const Options& options);

class Client {
 public:
  Client(const Options& options, std::string token);

  // A context with the token and, unless it is for a stream, the --timeout deadline.
  std::unique_ptr<grpc::ClientContext> Context(bool deadline = true) const;
  v1::AdminService::Stub& stub() { return *stub_; }
  const Options& options() const { return options_; }
  bool json() const { return options_.json; }

  // Prints the error and returns the exit code (kUnreachable or kRejected).
  int Fail(const grpc::Status& status, const grpc::ClientContext& ctx) const;
  void PrintJson(const google::protobuf::Message& message) const;

 private:
  const Options& options_;
  std::string token_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

// Calls `rpc` with `request` and returns the exit code: a failure is reported, --json
// prints the answer, and otherwise `print` shows it to people.
template <typename Request, typename Response, typename Print>
int Call(Client& client,
         grpc::Status (v1::AdminService::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                     Response*),
         const Request& request, Print print) {
  Response response;
  auto ctx = client.Context();
  const grpc::Status s = (client.stub().*rpc)(ctx.get(), request, &response);
  if (!s.ok()) return client.Fail(s, *ctx);
  if (client.json()) {
    client.PrintJson(response);
  } else {
    print(response);
  }
  return kOk;
}

}  // namespace rollout::ctl

#endif  // ROLLOUT_CMD_ROLLOUTCTL_CLIENT_H_
