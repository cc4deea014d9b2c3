// Backend host names on the frame-level plane: resolved off the workers (c-ares, against a
// test DNS server), every address an endpoint, re-resolved as the records change, and a
// name that does not resolve named in the error.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/echo_backend.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kFakeDns[] = ROLLOUT_SOURCE_DIR "/tests/support/fake_dns.py";

class NameResolutionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetNames("");
    dns_port_ = dns_.WaitForLine(R"(listening on 127\.0\.0\.1:(\d+))", absl::Seconds(10));
    ASSERT_FALSE(dns_port_.empty()) << dns_.Log();
  }

  // Rewrites the DNS server's records ("name ip ip" lines).
  void SetNames(const std::string& lines) {
    const std::string tmp = names_path_ + ".tmp";
    std::ofstream(tmp) << lines;
    std::rename(tmp.c_str(), names_path_.c_str());
  }

  void StartProxy(const std::string& endpoint) {
    proxy_ = std::make_unique<ProxyProcess>(
        absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
metrics: { listen: 127.0.0.1:0 }
resolver: { servers: ["127.0.0.1:@DNS@"], refresh_interval: 1s }
pools:
  - { name: models, endpoints: ["@ENDPOINT@"] }
routes:
  - name: all
    split: [ { pool: models, weight: 1 } ]
)",
                            {{"@DNS@", dns_port_}, {"@ENDPOINT@", endpoint}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
    stub_ = Echo::NewStub(proxy_->NewChannel());
  }

  // The backends that answered `n` calls, by name.
  std::map<std::string, int> Spread(int n) {
    std::map<std::string, int> seen;
    for (int i = 0; i < n; ++i) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
      EchoRequest request;
      EchoResponse response;
      grpc::Status status = stub_->Unary(&ctx, request, &response);
      ++seen[status.ok() ? response.backend() : "error: " + status.error_message()];
    }
    return seen;
  }

  const std::string names_path_ =
      absl::StrCat(::testing::TempDir(), "/names-", getpid(), "-", rand(), ".txt");
  ChildProcess dns_{{"/usr/bin/python3", kFakeDns, names_path_}};
  std::string dns_port_;
  std::unique_ptr<ProxyProcess> proxy_;
  std::unique_ptr<Echo::Stub> stub_;
};

TEST_F(NameResolutionTest, EveryAddressOfANameIsAnEndpointAndChangesAreFollowed) {
  EchoBackend a("a");
  EchoBackend b("b", nullptr, "127.0.0.2", a.port());  // the same port, another address
  ASSERT_TRUE(b.ok()) << "127.0.0.2:" << a.port() << " is taken";
  SetNames("models.test 127.0.0.1 127.0.0.2\n");
  const std::string port = std::to_string(a.port());
  StartProxy("models.test:" + port);

  std::map<std::string, int> seen = Spread(40);
  EXPECT_GT(seen["a"], 0) << "127.0.0.1 got no call";
  EXPECT_GT(seen["b"], 0) << "127.0.0.2 got no call";
  EXPECT_EQ(seen["a"] + seen["b"], 40);
  // The endpoint as configured is healthy while one of its addresses is.
  EXPECT_EQ(MetricSum(proxy_->metrics_port(),
                      R"(rollout_proxy_endpoint_healthy{pool="models",endpoint="models.test:)" +
                          port + "\"}"),
            1);

  // The name now has one address: within a few refreshes every call goes there.
  SetNames("models.test 127.0.0.2\n");
  bool moved = false;
  for (int i = 0; i < 50 && !moved; ++i) {
    absl::SleepFor(absl::Milliseconds(200));
    moved = Spread(10) == std::map<std::string, int>{{"b", 10}};
  }
  EXPECT_TRUE(moved) << "calls still reach 127.0.0.1 after its record went away";
  EXPECT_GE(a.total_calls(), 1);

  // A DNS outage (the name vanishes) keeps the last addresses: the pool is not emptied.
  SetNames("");
  absl::SleepFor(absl::Seconds(2));
  EXPECT_EQ(Spread(5), (std::map<std::string, int>{{"b", 5}}));
}

TEST_F(NameResolutionTest, ANameThatDoesNotResolveIsNamedInTheErrorUntilItDoes) {
  EchoBackend late("late");
  const std::string endpoint = "nowhere.test:" + std::to_string(late.port());
  StartProxy(endpoint);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  EchoResponse response;
  grpc::Status status = stub_->Unary(&ctx, EchoRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(),
              AllOf(HasSubstr("pool \"models\""), HasSubstr("cannot resolve " + endpoint)));
  EXPECT_THAT(dns_.Log(), HasSubstr("query nowhere.test 1")) << "the test DNS was not asked";

  // Once the name exists it is used, without a reload.
  SetNames("nowhere.test 127.0.0.1\n");
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    absl::SleepFor(absl::Milliseconds(200));
    served = Spread(1) == std::map<std::string, int>{{"late", 1}};
  }
  EXPECT_TRUE(served) << proxy_->Log();
}

}  // namespace
}  // namespace rollout::testing
