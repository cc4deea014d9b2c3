// TLS credentials for gRPC servers and channels, built from the config's TLS settings.
//
// Certificates come from a FileWatcherCertificateProvider, which re-reads the files every
// refresh_interval: a rotated certificate takes effect on new connections without a
// restart, and a half-written file keeps the last good one in use. A listener with
// allowed_client_sans checks the client certificate's SANs after the handshake's chain
// check, and refuses the connection when none matches.
//
// The config loader checks the files first (routing::CheckServerTls), so a bad path fails
// at startup or reload with its name rather than as handshake errors later.
//
// Thread-safety: the functions are thread-safe.
#ifndef ROLLOUT_CREDENTIALS_TLS_CREDENTIALS_H_
#define ROLLOUT_CREDENTIALS_TLS_CREDENTIALS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "routing/tls_spec.h"

namespace rollout::credentials {

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const routing::ServerTlsSpec& spec);

// Channel credentials for a pool (insecure when !spec.enabled). Sets the TLS target name
// in `args` when spec.server_name is set.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const routing::UpstreamTlsSpec& spec,
                                                             grpc::ChannelArguments* args);

}  // namespace rollout::credentials

#endif  // ROLLOUT_CREDENTIALS_TLS_CREDENTIALS_H_
