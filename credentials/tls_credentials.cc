#include "credentials/tls_credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rollout::credentials {
namespace {

namespace gx = grpc::experimental;

unsigned int RefreshSeconds(absl::Duration interval) {
  return static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(interval)));
}

// Accepts a client certificate that carries one of the allowed SANs. Runs after the
// handshake has checked the chain against the client CA.
class SanAllowlist final : public gx::ExternalCertificateVerifier {
 public:
  explicit SanAllowlist(std::vector<std::string> allowed) : allowed_(std::move(allowed)) {}

  bool Verify(gx::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    std::vector<std::string> seen;
    for (const auto& names : {request->dns_names(), request->uri_names(), request->ip_names(),
                              request->email_names()}) {
      for (const grpc::string_ref& name : names) {
        std::string san(name.data(), name.size());
        if (std::find(allowed_.begin(), allowed_.end(), san) != allowed_.end()) {
          *sync_status = grpc::Status::OK;
          return true;
        }
        seen.push_back(std::move(san));
      }
    }
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                absl::StrCat("client certificate SANs [", absl::StrJoin(seen, ", "),
                                             "] include none of tls.allowed_client_sans"));
    return true;
  }
  void Cancel(gx::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const std::vector<std::string> allowed_;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const routing::ServerTlsSpec& spec) {
  auto provider = std::make_shared<gx::FileWatcherCertificateProvider>(
      spec.key_file, spec.cert_file, spec.client_ca_file, RefreshSeconds(spec.refresh_interval));
  gx::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (spec.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    if (!spec.allowed_client_sans.empty()) {
      options.set_certificate_verifier(
          gx::ExternalCertificateVerifier::Create<SanAllowlist>(spec.allowed_client_sans));
    }
  }
  return gx::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const routing::UpstreamTlsSpec& spec,
                                                             grpc::ChannelArguments* args) {
  if (!spec.enabled) return grpc::InsecureChannelCredentials();
  gx::TlsChannelCredentialsOptions options;
  const unsigned int refresh = RefreshSeconds(spec.refresh_interval);
  if (!spec.cert_file.empty()) {
    options.set_certificate_provider(std::make_shared<gx::FileWatcherCertificateProvider>(
        spec.key_file, spec.cert_file, spec.ca_file, refresh));
    options.watch_identity_key_cert_pairs();
    if (!spec.ca_file.empty()) options.watch_root_certs();
  } else if (!spec.ca_file.empty()) {
    options.set_certificate_provider(
        std::make_shared<gx::FileWatcherCertificateProvider>(spec.ca_file, refresh));
    options.watch_root_certs();
  }
  options.set_verify_server_certs(true);
  options.set_certificate_verifier(std::make_shared<gx::HostNameCertificateVerifier>());
  if (!spec.server_name.empty()) args->SetSslTargetNameOverride(spec.server_name);
  return gx::TlsCredentials(options);
}

}  // namespace rollout::credentials
