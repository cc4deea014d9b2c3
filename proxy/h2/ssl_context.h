// RefreshingSslContext: an OpenSSL SSL_CTX built from files on disk and rebuilt from them
// every refresh interval, so that rotated certificates, keys and CA bundles serve new
// connections without a restart. A rebuild that fails (a half-written file, a key that
// does not match its certificate) keeps the last good context. The listener's ServerTls
// and the backends' ClientTls each keep one.
//
//   absl::StatusOr<std::unique_ptr<RefreshingSslContext>> ctx =
//       RefreshingSslContext::Create([&]() { return BuildMyContext(); }, absl::Seconds(10));
//   SSL* ssl = (*ctx)->NewSsl(now_ns);  // owned by the caller; holds its context alive
//
// Thread-safety: NewSsl() may be called from any thread (workers race to rebuild; one does).
#ifndef ROLLOUT_PROXY_H2_SSL_CONTEXT_H_
#define ROLLOUT_PROXY_H2_SSL_CONTEXT_H_

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rollout::proxy::h2 {

class RefreshingSslContext final {
 public:
  using Builder = std::function<absl::StatusOr<std::shared_ptr<SSL_CTX>>()>;

  // Builds the first context now: its error is the caller's.
  static absl::StatusOr<std::unique_ptr<RefreshingSslContext>> Create(Builder build,
                                                                      absl::Duration refresh);

  // A new SSL on the current context (rebuilt first if it is due).
  SSL* NewSsl(int64_t now_ns);

 private:
  RefreshingSslContext(Builder build, absl::Duration refresh)
      : build_(std::move(build)), refresh_ns_(absl::ToInt64Nanoseconds(refresh)) {}

  const Builder build_;
  const int64_t refresh_ns_;
  std::atomic<int64_t> next_refresh_ns_{0};
  std::mutex mu_;
  std::shared_ptr<SSL_CTX> ctx_ ABSL_GUARDED_BY(mu_);
};

// The oldest error in OpenSSL's queue as text, and the queue cleared.
std::string OpenSslError();

// A new context for `method` with what both sides share: TLS 1.2 at least, no
// renegotiation, partial writes (the loops write what the socket takes). Null on failure.
std::shared_ptr<SSL_CTX> NewContext(const SSL_METHOD* method);

// Loads a certificate chain and its private key into `ctx`; the error names the key and
// the file ("tls: key_file \"/etc/...\": ...").
absl::Status UseCertificate(SSL_CTX* ctx, const std::string& cert_file,
                            const std::string& key_file);

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_SSL_CONTEXT_H_
