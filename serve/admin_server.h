// AdminServer: the admin API's gRPC server on admin.listen, TLS or mTLS when admin.tls is
// set. A listen address that cannot be bound is an error that names it.
//
//   auto server = AdminServer::Start(*config.admin, &service);   // port 0: a free port
//   ... (*server)->port() ...
//
// Thread-safety: gRPC's; Shutdown() once.
#ifndef ROLLOUT_SERVE_ADMIN_SERVER_H_
#define ROLLOUT_SERVE_ADMIN_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "config/config.h"

namespace rollout::serve {

class AdminServer final {
 public:
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const control::AdminConfig& admin,
                                                            grpc::Service* service);
  ~AdminServer() { Shutdown(absl::Now()); }

  int port() const { return port_; }
  // A channel to the admin service inside this process (the dashboard's): no socket, and
  // the same token checks as a remote caller's.
  std::shared_ptr<grpc::Channel> InProcessChannel() {
    return server_->InProcessChannel(grpc::ChannelArguments());
  }
  // Lets calls in flight finish until `deadline`, then cancels them.
  void Shutdown(absl::Time deadline) { server_->Shutdown(absl::ToChronoTime(deadline)); }

 private:
  AdminServer(std::unique_ptr<grpc::Server> server, int port)
      : server_(std::move(server)), port_(port) {}

  std::unique_ptr<grpc::Server> server_;
  const int port_;
};

}  // namespace rollout::serve

#endif  // ROLLOUT_SERVE_ADMIN_SERVER_H_
