// TLS: the data listener with TLS and mTLS (client CA and SAN allowlist), TLS to a pool's
// backends (with the proxy's client certificate), certificates rotated on disk without a
// restart, mTLS on the admin API, and config errors that name the bad file. The tests make
// their own CA and certificates with openssl.
#include <grpcpp/security/credentials.h>

#include <fstream>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "credentials/tls_credentials.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/proxy_process.h"
#include "tests/support/test_pki.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// A client channel that trusts `ca` and, when `client` is set, presents `client`.crt.
std::shared_ptr<grpc::Channel> TlsChannel(const TestPki& pki, const std::string& address,
                                          const std::string& ca, const std::string& client = "") {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pki.Read(ca + ".crt");
  if (!client.empty()) {
    ssl.pem_cert_chain = pki.Read(client + ".crt");
    ssl.pem_private_key = pki.Read(client + ".key");
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt("rollout.test.unique", rand());  // a connection of its own
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel, std::string* backend = nullptr) {
  auto stub = Echo::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  EchoResponse response;
  grpc::Status status = stub->Unary(&ctx, EchoRequest(), &response);
  if (backend != nullptr) *backend = response.backend();
  return status;
}

std::string Config(const EchoBackend& backend, const std::string& tls,
                   const std::string& pool_tls = "") {
  return absl::StrReplaceAll(
      R"(
listen: 127.0.0.1:0
workers: 1
@TLS@
pools:
  - name: a
    endpoints: ["@A@"]
@POOL_TLS@
routes:
  - name: all
    split: [ { pool: a, weight: 1 } ]
)",
      {{"@A@", backend.address()}, {"@TLS@", tls}, {"@POOL_TLS@", pool_tls}});
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << pki_.error();
    ASSERT_TRUE(pki_.Issue("server", "ca", "DNS:localhost,IP:127.0.0.1")) << pki_.error();
    ASSERT_TRUE(pki_.Issue("client", "ca", "URI:spiffe://test/ns/ml/sa/client,DNS:client.test"))
        << pki_.error();
    ASSERT_TRUE(pki_.Issue("intruder", "ca", "DNS:intruder.test")) << pki_.error();
    ASSERT_TRUE(pki_.MakeAuthority("rogue-ca")) << pki_.error();
    ASSERT_TRUE(pki_.Issue("rogue", "rogue-ca", "URI:spiffe://test/ns/ml/sa/client"))
        << pki_.error();
  }
  std::string P(const std::string& file) const { return pki_.path(file); }

  TestPki pki_;
};

TEST_F(TlsTest, TheListenerServesTlsAndRefusesPlaintext) {
  EchoBackend a("a");
  ProxyProcess proxy(
      Config(a, "tls: { cert_file: " + P("server.crt") + ", key_file: " + P("server.key") + " }"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  std::string backend;
  grpc::Status ok = Call(TlsChannel(pki_, proxy.address(), "ca"), &backend);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(backend, "a");
  EXPECT_FALSE(Call(proxy.NewChannel()).ok()) << "a plaintext client was served";
  EXPECT_FALSE(Call(TlsChannel(pki_, proxy.address(), "rogue-ca")).ok())
      << "a client that does not trust the proxy's CA connected";
}

TEST_F(TlsTest, MutualTlsNeedsACertificateFromTheCaWithAnAllowedSan) {
  EchoBackend a("a");
  ProxyProcess proxy(Config(a, "tls: { cert_file: " + P("server.crt") + ", key_file: " +
                                   P("server.key") + ", client_ca_file: " + P("ca.crt") +
                                   ", allowed_client_sans: [\"spiffe://test/ns/ml/sa/client\"] }"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  grpc::Status ok = Call(TlsChannel(pki_, proxy.address(), "ca", "client"));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(Call(TlsChannel(pki_, proxy.address(), "ca")).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a client without a certificate was served";
  EXPECT_EQ(Call(TlsChannel(pki_, proxy.address(), "ca", "rogue")).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a certificate from another CA was accepted";
  EXPECT_EQ(Call(TlsChannel(pki_, proxy.address(), "ca", "intruder")).error_code(),
            grpc::StatusCode::UNAVAILABLE)
      << "a certificate without an allowed SAN was accepted";
  EXPECT_EQ(a.total_calls(), 1) << "a refused client's call reached the backend";

  // Without the allowlist, any certificate from the CA will do.
  ProxyProcess any_san(Config(a, "tls: { cert_file: " + P("server.crt") + ", key_file: " +
                                     P("server.key") + ", client_ca_file: " + P("ca.crt") + " }"));
  ASSERT_TRUE(any_san.ok()) << any_san.Log();
  EXPECT_TRUE(Call(TlsChannel(pki_, any_san.address(), "ca", "intruder")).ok());
}

TEST_F(TlsTest, APoolIsReachedOverTlsWithTheProxysClientCertificate) {
  // The backend wants mTLS: a client certificate from the CA.
  routing::ServerTlsSpec backend_tls;
  backend_tls.cert_file = P("server.crt");
  backend_tls.key_file = P("server.key");
  backend_tls.client_ca_file = P("ca.crt");
  EchoBackend a("a", credentials::ServerCredentials(backend_tls));

  ProxyProcess proxy(Config(a, "",
                            "    tls: { ca_file: " + P("ca.crt") +
                                ", cert_file: " + P("client.crt") +
                                ", key_file: " + P("client.key") + ", server_name: localhost }"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  std::string backend;
  grpc::Status ok = Call(proxy.NewChannel(), &backend);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(backend, "a");

  // Without server_name the endpoint's host is checked: here 127.0.0.1, an IP SAN.
  ProxyProcess by_ip(Config(a, "",
                            "    tls: { ca_file: " + P("ca.crt") + ", cert_file: " +
                                P("client.crt") + ", key_file: " + P("client.key") + " }"));
  ASSERT_TRUE(by_ip.ok()) << by_ip.Log();
  ok = Call(by_ip.NewChannel());
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  // One call through a proxy whose pool has `pool_tls`.
  auto call_with = [&](const std::string& pool_tls) {
    ProxyProcess proxy(Config(a, "", "    tls: { " + pool_tls + " }"));
    EXPECT_TRUE(proxy.ok()) << proxy.Log();
    return proxy.ok() ? Call(proxy.NewChannel()) : grpc::Status(grpc::StatusCode::INTERNAL, "");
  };
  const std::string client_cert =
      ", cert_file: " + P("client.crt") + ", key_file: " + P("client.key");

  // Without its client certificate the proxy cannot reach that backend, and says so.
  grpc::Status refused = call_with("ca_file: " + P("ca.crt") + ", server_name: localhost");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.error_message(), HasSubstr("pool \"a\""));

  // A backend certificate that the pool's CA did not sign is refused too.
  grpc::Status untrusted =
      call_with("ca_file: " + P("rogue-ca.crt") + client_cert + ", server_name: localhost");
  EXPECT_EQ(untrusted.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(untrusted.error_message(),
              AllOf(HasSubstr("pool \"a\""), HasSubstr("certificate verify failed")));

  // So is a certificate for another name than server_name.
  grpc::Status mismatch =
      call_with("ca_file: " + P("ca.crt") + client_cert + ", server_name: models.internal");
  EXPECT_EQ(mismatch.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(mismatch.error_message(), ContainsRegex("[Hh]ostname"));
  EXPECT_EQ(a.total_calls(), 2);
}

TEST_F(TlsTest, ARotatedCertificateIsServedWithoutARestart) {
  // The proxy starts with a certificate from "ca"; the client trusts only "next-ca". Once
  // the files are replaced with a certificate from "next-ca", new connections succeed.
  ASSERT_TRUE(pki_.MakeAuthority("next-ca")) << pki_.error();
  ASSERT_TRUE(pki_.Issue("next", "next-ca", "DNS:localhost")) << pki_.error();
  TempDir live;
  const std::string crt = live.WriteFile("tls.crt", pki_.Read("server.crt"));
  const std::string key = live.WriteFile("tls.key", pki_.Read("server.key"));
  EchoBackend a("a");
  ProxyProcess proxy(
      Config(a, "tls: { cert_file: " + crt + ", key_file: " + key + ", refresh_interval: 1s }"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  EXPECT_TRUE(Call(TlsChannel(pki_, proxy.address(), "ca")).ok());
  EXPECT_FALSE(Call(TlsChannel(pki_, proxy.address(), "next-ca")).ok());

  live.WriteFile("tls.key", pki_.Read("next.key"));
  live.WriteFile("tls.crt", pki_.Read("next.crt"));
  bool rotated = false;
  for (int i = 0; i < 50 && !rotated; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    rotated = Call(TlsChannel(pki_, proxy.address(), "next-ca")).ok();
  }
  EXPECT_TRUE(rotated) << "the new certificate was not served within 5 s";
  EXPECT_TRUE(proxy.process().running());
}

TEST_F(TlsTest, TheAdminApiTakesMutualTls) {
  EchoBackend a("a");
  TempDir dir;
  const std::string tokens = dir.WriteFile("admin.tokens", "ops admin s3cret-s3cret-s3cret\n");
  const std::string token = dir.WriteFile("token", "s3cret-s3cret-s3cret\n");
  ProxyProcess proxy(Config(a, "admin: { listen: 127.0.0.1:0, token_file: " + tokens +
                                   ", tls: { cert_file: " + P("server.crt") + ", key_file: " +
                                   P("server.key") + ", client_ca_file: " + P("ca.crt") + " } }"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  std::string out;
  EXPECT_EQ(RunCommand({kRolloutctlBin, "--admin", proxy.admin_address(), "--token-file", token,
                        "--tls-ca", P("ca.crt"), "--tls-cert", P("client.crt"), "--tls-key",
                        P("client.key"), "--tls-server-name", "localhost", "routes"},
                       &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("all"));
  EXPECT_EQ(RunCommand({kRolloutctlBin, "--admin", proxy.admin_address(), "--token-file", token,
                        "--tls-ca", P("ca.crt"), "--tls-server-name", "localhost", "--timeout",
                        "2s", "routes"},
                       &out),
            3)
      << "served without a client certificate: " << out;
  EXPECT_EQ(RunCommand({kRolloutctlBin, "--admin", proxy.admin_address(), "--token-file", token,
                        "--timeout", "2s", "routes"},
                       &out),
            3)
      << "served in plaintext: " << out;
  EXPECT_EQ(RunCommand({kRolloutctlBin, "--tls-cert", P("client.crt"), "routes"}, &out), 2);
  EXPECT_THAT(out, HasSubstr("--tls-cert and --tls-key: set both or neither"));
}

TEST_F(TlsTest, ABadCertificatePathIsNamedByCheck) {
  EchoBackend a("a");
  TempDir dir;
  std::string out;
  const std::string missing = dir.WriteFile(
      "missing.yaml",
      Config(a, "tls: { cert_file: nowhere.crt, key_file: " + P("server.key") + " }"));
  EXPECT_NE(RunCommand({kProxyBin, "--config", missing, "--check"}, &out), 0);
  EXPECT_THAT(
      out, AllOf(HasSubstr("tls: cert_file: cannot read"), HasSubstr(dir.path() + "/nowhere.crt")));
  const std::string swapped = dir.WriteFile(
      "swapped.yaml",
      Config(a, "tls: { cert_file: " + P("server.key") + ", key_file: " + P("server.key") + " }"));
  EXPECT_NE(RunCommand({kProxyBin, "--config", swapped, "--check"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("holds no PEM CERTIFICATE"));
  const std::string sans =
      dir.WriteFile("sans.yaml", Config(a, "tls: { cert_file: " + P("server.crt") + ", key_file: " +
                                               P("server.key") + ", allowed_client_sans: [x] }"));
  EXPECT_NE(RunCommand({kProxyBin, "--config", sans, "--check"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("allowed_client_sans: needs client_ca_file"));
  const std::string pool =
      dir.WriteFile("pool.yaml", Config(a, "", "    tls: { ca_file: " + P("ca.key") + " }"));
  EXPECT_NE(RunCommand({kProxyBin, "--config", pool, "--check"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("pools[0].tls: ca_file:"));
}

}  // namespace
}  // namespace rollout::testing
