// ClientTls: TLS to one pool's backends on the frame-level plane (routing::UpstreamTlsSpec),
// with OpenSSL: TLS 1.2 and 1.3, ALPN "h2", the backend's certificate checked against
// ca_file (the system's roots when unset) for server_name (the endpoint's host when unset:
// its DNS name, or its IP address against the certificate's IP SANs), and the proxy's
// client certificate (cert_file, key_file) for backends that want mTLS. The files are
// re-read every refresh_interval (RefreshingSslContext).
//
// ClientTlsSet hands out one ClientTls per distinct spec, shared by every worker.
//
//   absl::StatusOr<std::shared_ptr<ClientTls>> tls = set.Get(pool.tls);
//   SSL* ssl = (*tls)->NewSsl(now_ns, "backend.internal");  // owned by the connection
//   ... after a failed handshake: ClientTls::Describe(ssl, ssl_error)
//
// Thread-safety: both classes are thread-safe.
#ifndef ROLLOUT_PROXY_H2_CLIENT_TLS_H_
#define ROLLOUT_PROXY_H2_CLIENT_TLS_H_

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "proxy/h2/ssl_context.h"
#include "routing/tls_spec.h"

namespace rollout::proxy::h2 {

class ClientTls final {
 public:
  static absl::StatusOr<std::unique_ptr<ClientTls>> Create(const routing::UpstreamTlsSpec& spec);

  // A client-side SSL for a connection to `host` (a name or an IP address, no brackets).
  SSL* NewSsl(int64_t now_ns, const std::string& host);

  // Why a handshake failed, for the call's error and the log: the certificate check's
  // verdict when that is what failed, else OpenSSL's reason.
  static std::string Describe(SSL* ssl, int ssl_error);

 private:
  explicit ClientTls(const routing::UpstreamTlsSpec& spec) : spec_(spec) {}
  absl::StatusOr<std::shared_ptr<SSL_CTX>> Build() const;

  const routing::UpstreamTlsSpec spec_;
  std::unique_ptr<RefreshingSslContext> ctx_;
};

class ClientTlsSet final {
 public:
  // The ClientTls for `spec` (made on first use), or why its files do not make a context.
  absl::StatusOr<std::shared_ptr<ClientTls>> Get(const routing::UpstreamTlsSpec& spec);

 private:
  std::mutex mu_;
  std::vector<std::pair<routing::UpstreamTlsSpec, std::shared_ptr<ClientTls>>> made_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_CLIENT_TLS_H_
