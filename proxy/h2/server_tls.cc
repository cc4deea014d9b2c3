#include "proxy/h2/server_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rollout::proxy::h2 {
namespace {

using TlsFailure = metrics::ListenerCounters::TlsFailure;

// The ServerTls a context belongs to, for the verify callback.
int ExIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int SelectH2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
             unsigned int inlen, void*) {
  for (unsigned int at = 0; at < inlen; at += 1 + in[at]) {
    const unsigned int len = in[at];
    if (at + 1 + len > inlen) break;
    if (len == 2 && in[at + 1] == 'h' && in[at + 2] == '2') {
      *out = in + at + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // gRPC is HTTP/2 only
}

// The certificate's subject alternative names, as text (IP addresses in their usual form).
std::vector<std::string> SansOf(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS || name->type == GEN_URI || name->type == GEN_EMAIL) {
      const ASN1_IA5STRING* s = name->d.ia5;
      out.emplace_back(reinterpret_cast<const char*>(s->data), s->length);
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = "";
      if (ip->length == 4 || ip->length == 16) {
        inet_ntop(ip->length == 4 ? AF_INET : AF_INET6, ip->data, text, sizeof(text));
        out.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerTls>> ServerTls::Create(const routing::ServerTlsSpec& spec) {
  std::unique_ptr<ServerTls> tls(new ServerTls(spec));
  ServerTls* self = tls.get();
  absl::StatusOr<std::unique_ptr<RefreshingSslContext>> ctx =
      RefreshingSslContext::Create([self]() { return self->Build(); }, spec.refresh_interval);
  if (!ctx.ok()) return ctx.status();
  tls->ctx_ = *std::move(ctx);
  return tls;
}

ServerTls::~ServerTls() = default;

absl::StatusOr<std::shared_ptr<SSL_CTX>> ServerTls::Build() const {
  std::shared_ptr<SSL_CTX> ctx = NewContext(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("tls: " + OpenSslError());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (absl::Status ok = UseCertificate(c, spec_.cert_file, spec_.key_file); !ok.ok()) return ok;
  SSL_CTX_set_alpn_select_cb(c, &SelectH2, nullptr);
  if (!spec_.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, spec_.client_ca_file.c_str(), nullptr) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls: client_ca_file \"", spec_.client_ca_file, "\": ", OpenSslError()));
    }
    SSL_CTX_set_ex_data(c, ExIndex(), const_cast<ServerTls*>(this));
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, &VerifyPeer);
  }
  return ctx;
}

int ServerTls::VerifyPeer(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1 || X509_STORE_CTX_get_error_depth(store) != 0) return preverify_ok;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const auto* self =
      static_cast<const ServerTls*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ExIndex()));
  if (self == nullptr || self->spec_.allowed_client_sans.empty()) return 1;
  for (const std::string& san : SansOf(X509_STORE_CTX_get_current_cert(store))) {
    const auto& allowed = self->spec_.allowed_client_sans;
    if (std::find(allowed.begin(), allowed.end(), san) != allowed.end()) return 1;
  }
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

metrics::ListenerCounters::TlsFailure ServerTls::FailureOf(SSL* ssl, int ssl_error) {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (SSL_get_verify_result(ssl) == X509_V_ERR_APPLICATION_VERIFICATION) {
    return TlsFailure::kSanNotAllowed;
  }
  if (ssl_error != SSL_ERROR_SSL) return TlsFailure::kHandshakeError;  // the peer went away
  switch (ERR_GET_REASON(e)) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return TlsFailure::kNoClientCertificate;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return TlsFailure::kBadCertificate;
    case SSL_R_NO_APPLICATION_PROTOCOL:
      return TlsFailure::kNoH2;
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
      return TlsFailure::kNotTls;
    default:
      return TlsFailure::kHandshakeError;
  }
}

}  // namespace rollout::proxy::h2
