// TestPki: a throwaway certificate authority and certificates, made with Debian's openssl
// command for TLS tests. Everything is EC P-256 and valid for two days.
//
//   TestPki pki;
//   ASSERT_TRUE(pki.ok()) << pki.error();
//   pki.Issue("server", "ca", "DNS:localhost,IP:127.0.0.1");   // server.crt, server.key
//   pki.path("server.crt")
//
// Thread-safety: not thread-safe.
#ifndef ROLLOUT_TESTS_SUPPORT_TEST_PKI_H_
#define ROLLOUT_TESTS_SUPPORT_TEST_PKI_H_

#include <string>

#include "tests/support/child_process.h"

namespace rollout::testing {

class TestPki {
 public:
  // Makes the authority "ca" (ca.crt, ca.key).
  TestPki();

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::string path(const std::string& file) const { return dir_.path() + "/" + file; }
  const std::string& dir() const { return dir_.path(); }

  // Another self-signed authority, `name`.crt and `name`.key.
  bool MakeAuthority(const std::string& name);
  // `name`.crt signed by authority `ca`, for `sans` (openssl's subjectAltName syntax),
  // usable by servers and clients, and its key `name`.key.
  bool Issue(const std::string& name, const std::string& ca, const std::string& sans);

  // The contents of `file`.
  std::string Read(const std::string& file) const;

 private:
  bool Run(const std::vector<std::string>& argv);

  TempDir dir_;
  std::string error_;
};

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_TEST_PKI_H_
