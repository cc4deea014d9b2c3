#include "proxy/h2/client_tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "routing/host_port.h"

namespace rollout::proxy::h2 {
absl::StatusOr<std::unique_ptr<ClientTls>> ClientTls::Create(const routing::UpstreamTlsSpec& spec) {
  std::unique_ptr<ClientTls> tls(new ClientTls(spec));
  const ClientTls* self = tls.get();
  absl::StatusOr<std::unique_ptr<RefreshingSslContext>> ctx =
      RefreshingSslContext::Create([self]() { return self->Build(); }, spec.refresh_interval);
  if (!ctx.ok()) return ctx.status();
  tls->ctx_ = *std::move(ctx);
  return tls;
}

absl::StatusOr<std::shared_ptr<SSL_CTX>> ClientTls::Build() const {
  std::shared_ptr<SSL_CTX> ctx = NewContext(TLS_client_method());
  if (ctx == nullptr) return absl::InternalError("tls: " + OpenSslError());
  SSL_CTX* c = ctx.get();
  const int ca_ok = spec_.ca_file.empty()
                        ? SSL_CTX_set_default_verify_paths(c)
                        : SSL_CTX_load_verify_locations(c, spec_.ca_file.c_str(), nullptr);
  if (ca_ok != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls: ca_file \"", spec_.ca_file, "\": ", OpenSslError()));
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  if (!spec_.cert_file.empty()) {
    if (absl::Status ok = UseCertificate(c, spec_.cert_file, spec_.key_file); !ok.ok()) return ok;
  }
  static const unsigned char kH2[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(c, kH2, sizeof(kH2));
  return ctx;
}

SSL* ClientTls::NewSsl(int64_t now_ns, const std::string& host) {
  SSL* ssl = ctx_->NewSsl(now_ns);
  if (ssl == nullptr) return nullptr;
  SSL_set_connect_state(ssl);
  const std::string& name = spec_.server_name.empty() ? host : spec_.server_name;
  if (routing::IsIpAddress(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    SSL_set1_host(ssl, name.c_str());
  }
  return ssl;
}

std::string ClientTls::Describe(SSL* ssl, int ssl_error) {
  const long verdict = SSL_get_verify_result(ssl);
  if (verdict != X509_V_OK) {
    ERR_clear_error();
    return absl::StrCat("certificate verify failed: ", X509_verify_cert_error_string(verdict));
  }
  if (ssl_error == SSL_ERROR_SSL) return OpenSslError();
  ERR_clear_error();
  return "the backend closed the connection during the handshake";
}

absl::StatusOr<std::shared_ptr<ClientTls>> ClientTlsSet::Get(const routing::UpstreamTlsSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [made_for, tls] : made_) {
    if (made_for == spec) return tls;
  }
  absl::StatusOr<std::unique_ptr<ClientTls>> tls = ClientTls::Create(spec);
  if (!tls.ok()) return tls.status();
  std::shared_ptr<ClientTls> shared = *std::move(tls);
  made_.emplace_back(spec, shared);
  return shared;
}

}  // namespace rollout::proxy::h2
