// The access log of a real proxy: one line per call with the route, pool, endpoint, method,
// status, duration, bytes and the client's x-request-id; a call the proxy refuses itself is
// logged too; SIGUSR1 after a rename (logrotate) moves the writing to a new file; and
// /metrics counts the lines.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/generic_call.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

std::vector<nlohmann::json> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// The file's lines, once it has at least `n` (the writer flushes every 200 ms).
std::vector<nlohmann::json> WaitForLines(const std::string& path, size_t n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  std::vector<nlohmann::json> lines;
  while (absl::Now() < deadline) {
    lines = Lines(path);
    if (lines.size() >= n) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return lines;
}

class AccessLogProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proxy_ = std::make_unique<ProxyProcess>(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
metrics: { listen: 127.0.0.1:0 }
access_log: { path: access.log, sample: 1, format: json }
pools:
  - { name: stable, endpoints: ["S"] }
routes:
  - name: echo
    match: { method_prefix: /rollout.testing.Echo/ }
    split: [ { pool: stable, weight: 100 } ]
)",
                                                                {{"S", backend_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
    const std::string& config = proxy_->config_path();
    path_ = config.substr(0, config.rfind('/')) + "/access.log";
  }

  // `n` calls with x-request-id req-<first + i>; `fail` makes them FAILED_PRECONDITION.
  void Send(int first, int n, bool fail) {
    auto stub = Echo::NewStub(proxy_->NewChannel());
    for (int i = first; i < first + n; ++i) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("x-request-id", absl::StrCat("req-", i));
      EchoRequest request;
      request.set_payload("hello");
      if (fail) request.set_fail_code(grpc::StatusCode::FAILED_PRECONDITION);
      EchoResponse response;
      stub->Unary(&ctx, request, &response);
    }
  }

  EchoBackend backend_{"stable"};
  std::unique_ptr<ProxyProcess> proxy_;
  std::string path_;
};

TEST_F(AccessLogProcessTest, EveryCallHasALineWithWhatAnOperatorGrepsFor) {
  Send(0, 20, /*fail=*/false);
  Send(20, 5, /*fail=*/true);
  const std::vector<nlohmann::json> lines = WaitForLines(path_, 25);
  ASSERT_EQ(lines.size(), 25u) << proxy_->Log();
  std::set<std::string> ids;
  int failed = 0;
  for (const nlohmann::json& j : lines) {
    EXPECT_EQ(j["route"], "echo") << j;
    EXPECT_EQ(j["pool"], "stable") << j;
    EXPECT_EQ(j["endpoint"], backend_.address()) << j;
    EXPECT_EQ(j["method"], "/rollout.testing.Echo/Unary") << j;
    EXPECT_GT(j["duration_ms"].get<double>(), 0) << j;
    EXPECT_GT(j["bytes_received"].get<int>(), 5) << j;  // "hello" in a message
    EXPECT_THAT(j["time"].get<std::string>(), ::testing::StartsWith("20")) << j;
    ids.insert(j["request_id"].get<std::string>());
    if (j["grpc_status"] == "FAILED_PRECONDITION") {
      ++failed;
      EXPECT_EQ(j["grpc_code"], 9);
    } else {
      EXPECT_EQ(j["grpc_status"], "OK") << j;
      EXPECT_GT(j["bytes_sent"].get<int>(), 5) << j;
    }
  }
  EXPECT_EQ(failed, 5);
  EXPECT_EQ(ids.size(), 25u);
  EXPECT_EQ(ids.count("req-0") + ids.count("req-24"), 2u);

  absl::StatusOr<std::string> metrics = HttpGet(proxy_->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(*metrics, HasSubstr("rollout_proxy_access_log_lines_total 25"));
  EXPECT_THAT(*metrics, HasSubstr("rollout_proxy_access_log_dropped_total 0"));
}

TEST_F(AccessLogProcessTest, ARefusedCallIsLoggedWithTheProxysStatus) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "lost-call");
  const grpc::Status status = CallGeneric(proxy_->NewChannel(), "/other.Service/Method", &ctx);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  const std::vector<nlohmann::json> lines = WaitForLines(path_, 1);
  ASSERT_EQ(lines.size(), 1u) << proxy_->Log();
  EXPECT_EQ(lines[0]["request_id"], "lost-call");
  EXPECT_EQ(lines[0]["grpc_status"], "UNIMPLEMENTED");
  EXPECT_EQ(lines[0]["route"], "");
  EXPECT_EQ(lines[0]["method"], "/other.Service/Method");
}

TEST_F(AccessLogProcessTest, SigusrOneReopensTheFileAfterARotation) {
  Send(0, 10, /*fail=*/false);
  ASSERT_EQ(WaitForLines(path_, 10).size(), 10u);
  ASSERT_EQ(std::rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  proxy_->process().Signal(SIGUSR1);
  ASSERT_FALSE(proxy_->process().WaitForLine("reopened .*access.log", absl::Seconds(5)).empty())
      << proxy_->Log();
  Send(10, 7, /*fail=*/false);
  EXPECT_EQ(WaitForLines(path_, 7).size(), 7u);
  EXPECT_EQ(Lines(path_ + ".1").size(), 10u);
  EXPECT_TRUE(proxy_->process().running());
}

}  // namespace
}  // namespace rollout::testing
