// The frame-level plane's TLS listener (OpenSSL in the workers' loops), seen by
// `openssl s_client`: TLS 1.2 and 1.3 with ALPN h2, a client without h2 refused, plaintext
// on the TLS port refused, each mTLS refusal counted by its reason, and a client that never
// finishes its handshake closed after handshake_timeout. The gRPC-level behaviour (calls
// over TLS and mTLS, rotation) is in tests/proxy/tls_test.cc.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/echo_backend.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"
#include "tests/support/raw_h2_client.h"
#include "tests/support/test_pki.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TlsListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << pki_.error();
    ASSERT_TRUE(pki_.Issue("server", "ca", "DNS:localhost,IP:127.0.0.1")) << pki_.error();
    ASSERT_TRUE(pki_.Issue("client", "ca", "URI:spiffe://test/client")) << pki_.error();
    ASSERT_TRUE(pki_.Issue("intruder", "ca", "DNS:intruder.test")) << pki_.error();
    ASSERT_TRUE(pki_.MakeAuthority("rogue-ca")) << pki_.error();
    ASSERT_TRUE(pki_.Issue("rogue", "rogue-ca", "URI:spiffe://test/client")) << pki_.error();
  }

  void Start(const std::string& tls_extra = "") {
    proxy_ = std::make_unique<ProxyProcess>(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
metrics: { listen: 127.0.0.1:0 }
tls: { cert_file: @CRT@, key_file: @KEY@ @EXTRA@ }
connections: { handshake_timeout: 500ms }
pools: [ { name: a, endpoints: ["@A@"] } ]
routes: [ { name: all, split: [ { pool: a, weight: 1 } ] } ]
)",
                                                                {{"@CRT@", pki_.path("server.crt")},
                                                                 {"@KEY@", pki_.path("server.key")},
                                                                 {"@EXTRA@", tls_extra},
                                                                 {"@A@", backend_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
  }

  // `openssl s_client` against the proxy with `args`; its output.
  std::string SClient(const std::string& args) {
    std::string out;
    RunCommand({"/bin/sh", "-c",
                absl::StrCat("openssl s_client -connect ", proxy_->address(),
                             " -servername localhost -CAfile ", pki_.path("ca.crt"), " ", args,
                             " </dev/null 2>&1")},
               &out, absl::Seconds(10));
    return out;
  }

  int64_t Failures(const std::string& reason) {
    absl::StatusOr<std::string> page = HttpGet(proxy_->metrics_port(), "/metrics");
    if (!page.ok()) return -1;
    const std::string key =
        absl::StrCat("rollout_proxy_tls_handshake_failures_total{reason=\"", reason, "\"} ");
    const size_t at = page->find(key);
    int64_t n = -1;
    if (at != std::string::npos) {
      if (!absl::SimpleAtoi(page->substr(at + key.size(), page->find('\n', at) - at - key.size()),
                            &n)) {
        n = -1;
      }
    }
    return n;
  }

  TestPki pki_;
  EchoBackend backend_{"a"};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(TlsListenerTest, Tls12And13WithAlpnH2AndNothingElse) {
  Start();
  const std::string v13 = SClient("-tls1_3 -alpn h2");
  EXPECT_THAT(v13, HasSubstr("ALPN protocol: h2")) << v13;
  EXPECT_THAT(v13, HasSubstr("TLSv1.3"));
  EXPECT_THAT(v13, HasSubstr("Verify return code: 0 (ok)"));
  const std::string v12 = SClient("-tls1_2 -alpn h2");
  EXPECT_THAT(v12, HasSubstr("ALPN protocol: h2")) << v12;
  EXPECT_THAT(v12, HasSubstr("TLSv1.2"));
  const std::string v11 = SClient("-tls1_1 -alpn h2");
  EXPECT_THAT(v11, Not(HasSubstr("ALPN protocol: h2"))) << v11;
  EXPECT_EQ(Failures("handshake_error"), 1);  // TLS 1.1 is not offered
  const std::string http1 = SClient("-alpn http/1.1");
  EXPECT_THAT(http1, Not(HasSubstr("ALPN protocol"))) << http1;
  EXPECT_EQ(Failures("no_h2_alpn"), 1);

  // Plaintext HTTP/2 on the TLS port.
  RawH2Client plain(proxy_->port());
  plain.Send(RawH2Client::Preface());
  EXPECT_TRUE(plain.WaitForClose(absl::Seconds(3)));
  EXPECT_EQ(Failures("not_tls"), 1);

  // A TCP connection that never says hello is closed after handshake_timeout.
  RawH2Client silent(proxy_->port());
  EXPECT_TRUE(silent.WaitForClose(absl::Seconds(3)));
  EXPECT_EQ(backend_.total_calls(), 0);
}

TEST_F(TlsListenerTest, MutualTlsRefusalsAreCountedByReason) {
  Start(", client_ca_file: " + pki_.path("ca.crt") +
        ", allowed_client_sans: [\"spiffe://test/client\"]");
  auto with_cert = [&](const std::string& name) {
    return SClient(absl::StrCat("-alpn h2 -cert ", pki_.path(name + ".crt"), " -key ",
                                pki_.path(name + ".key")));
  };
  const std::string ok = with_cert("client");
  EXPECT_THAT(ok, HasSubstr("ALPN protocol: h2")) << ok;
  with_cert("rogue");
  with_cert("intruder");
  SClient("-alpn h2");  // no certificate
  EXPECT_EQ(Failures("bad_certificate"), 1);
  EXPECT_EQ(Failures("san_not_allowed"), 1);
  EXPECT_EQ(Failures("no_client_certificate"), 1);
}

}  // namespace
}  // namespace rollout::testing
