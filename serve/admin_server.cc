#include "serve/admin_server.h"

#include "absl/strings/str_cat.h"
#include "credentials/tls_credentials.h"

namespace rollout::serve {

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const control::AdminConfig& admin,
                                                                grpc::Service* service) {
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a second proxy must not share it
  int port = 0;
  builder.AddListeningPort(admin.listen,
                           admin.tls.has_value() ? credentials::ServerCredentials(*admin.tls)
                                                 : grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", admin.listen, " (admin.listen)"));
  }
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(server), port));
}

}  // namespace rollout::serve
