#include "proxy/h2/ssl_context.h"

#include <openssl/err.h>

#include "absl/strings/str_cat.h"
#include "metrics/call_series.h"

namespace rollout::proxy::h2 {

absl::StatusOr<std::unique_ptr<RefreshingSslContext>> RefreshingSslContext::Create(
    Builder build, absl::Duration refresh) {
  std::unique_ptr<RefreshingSslContext> self(new RefreshingSslContext(std::move(build), refresh));
  absl::StatusOr<std::shared_ptr<SSL_CTX>> ctx = self->build_();
  if (!ctx.ok()) return ctx.status();
  self->next_refresh_ns_.store(metrics::MonotonicNowNs() + self->refresh_ns_,
                               std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(self->mu_);
  self->ctx_ = *std::move(ctx);
  return self;
}

SSL* RefreshingSslContext::NewSsl(int64_t now_ns) {
  if (now_ns >= next_refresh_ns_.load(std::memory_order_relaxed)) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (lock.owns_lock() && now_ns >= next_refresh_ns_.load(std::memory_order_relaxed)) {
      next_refresh_ns_.store(now_ns + refresh_ns_, std::memory_order_relaxed);
      if (absl::StatusOr<std::shared_ptr<SSL_CTX>> fresh = build_(); fresh.ok()) {
        ctx_ = *std::move(fresh);
      }
    }
  }
  std::shared_ptr<SSL_CTX> ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ctx = ctx_;
  }
  SSL* ssl = SSL_new(ctx.get());  // holds its own reference to the context
  ERR_clear_error();
  return ssl;
}

std::shared_ptr<SSL_CTX> NewContext(const SSL_METHOD* method) {
  SSL_CTX* c = SSL_CTX_new(method);
  if (c == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
  return std::shared_ptr<SSL_CTX>(c, SSL_CTX_free);
}

absl::Status UseCertificate(SSL_CTX* ctx, const std::string& cert_file,
                            const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls: cert_file \"", cert_file, "\": ", OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls: key_file \"", key_file, "\": ", OpenSslError()));
  }
  return absl::OkStatus();
}

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  return text;
}

}  // namespace rollout::proxy::h2
