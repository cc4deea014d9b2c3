// ServerTls: the data listener's TLS on the frame-level plane, with OpenSSL: one SSL_CTX
// built from the config's files (routing::ServerTlsSpec), rebuilt from them every
// refresh_interval (RefreshingSslContext) so that a rotated certificate serves new
// connections without a restart.
//
// Each connection gets its own SSL from NewSsl(), then drives the handshake itself, non-
// blocking, in its worker's epoll loop. The context offers TLS 1.2 and 1.3 only, selects
// ALPN "h2" (a client that offers ALPN without it is refused), and, with client_ca_file,
// requires a client certificate from that CA carrying one of allowed_client_sans (when
// set), checked during the handshake so that a refused client sees the handshake fail.
//
//   absl::StatusOr<std::unique_ptr<ServerTls>> tls = ServerTls::Create(spec);
//   SSL* ssl = (*tls)->NewSsl(now_ns);  // owned by the connection
//   ... after a failed handshake: ServerTls::FailureOf(ssl, ssl_error)
//
// Thread-safety: NewSsl() may be called from any thread (workers race to rebuild; one does).
#ifndef ROLLOUT_PROXY_H2_SERVER_TLS_H_
#define ROLLOUT_PROXY_H2_SERVER_TLS_H_

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "metrics/listener_counters.h"
#include "proxy/h2/ssl_context.h"
#include "routing/tls_spec.h"

namespace rollout::proxy::h2 {

class ServerTls final {
 public:
  static absl::StatusOr<std::unique_ptr<ServerTls>> Create(const routing::ServerTlsSpec& spec);
  ~ServerTls();

  // A new server-side SSL on the current context (rebuilt first if it is due).
  SSL* NewSsl(int64_t now_ns) { return ctx_->NewSsl(now_ns); }

  // Why a handshake failed, from the SSL_get_error() result and OpenSSL's error queue.
  static metrics::ListenerCounters::TlsFailure FailureOf(SSL* ssl, int ssl_error);

 private:
  explicit ServerTls(const routing::ServerTlsSpec& spec) : spec_(spec) {}
  // A context from the files as they are now.
  absl::StatusOr<std::shared_ptr<SSL_CTX>> Build() const;
  static int VerifyPeer(int preverify_ok, X509_STORE_CTX* store);

  const routing::ServerTlsSpec spec_;
  std::unique_ptr<RefreshingSslContext> ctx_;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_SERVER_TLS_H_
