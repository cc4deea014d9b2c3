// rollout-proxy as a process: config validation at the command line, refusing to start
// on a bad config, and SIGTERM with calls in flight.
#include <signal.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/generic_call.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string ConfigFor(const EchoBackend& backend, const std::string& extra = "") {
  return absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
EXTRA
pools:
  - { name: a, endpoints: ["A"] }
routes:
  - name: all
    split: [ { pool: a, weight: 1 } ]
)",
                             {{"A", backend.address()}, {"EXTRA", extra}});
}

TEST(ProcessTest, CheckAcceptsAValidConfig) {
  TempDir dir;
  EchoBackend a("a");
  const std::string path = dir.WriteFile("ok.yaml", ConfigFor(a));
  std::string out;
  EXPECT_EQ(RunCommand({kProxyBin, "--config", path, "--check"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("OK"), HasSubstr("route all"), HasSubstr("a=100.0000%")));
}

TEST(ProcessTest, TheShippedExampleConfigPassesCheck) {
  std::string out;
  EXPECT_EQ(
      RunCommand({kProxyBin, "--config",
                  std::string(ROLLOUT_SOURCE_DIR) + "/deploy/config/rollout-proxy.yaml", "--check"},
                 &out),
      0)
      << out;
}

TEST(ProcessTest, BadConfigIsRejectedWithFileFieldAndReason) {
  TempDir dir;
  const std::string path = dir.WriteFile("bad.yaml", R"(
listen: 127.0.0.1:0
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001"] }
routes:
  - name: all
    split: [ { pool: v1, weight: 90 }, { pool: v9, weight: 10 } ]
)");
  for (bool check : {true, false}) {
    std::vector<std::string> argv = {kProxyBin, "--config", path};
    if (check) argv.push_back("--check");
    std::string out;
    // Without --check the proxy must refuse to start, not serve with half a config.
    EXPECT_EQ(RunCommand(argv, &out, absl::Seconds(10)), 2) << out;
    EXPECT_THAT(out, AllOf(HasSubstr("bad.yaml"), HasSubstr("routes[0].split[1].pool"),
                           HasSubstr("unknown pool \"v9\"")));
    EXPECT_THAT(out, ::testing::Not(HasSubstr("listening")));
  }
}

TEST(ProcessTest, CommandLineErrorsAndHelp) {
  std::string out;
  EXPECT_EQ(RunCommand({kProxyBin, "--config", "/nonexistent.yaml"}, &out), 2);
  EXPECT_THAT(out, HasSubstr("/nonexistent.yaml: cannot open"));
  EXPECT_EQ(RunCommand({kProxyBin}, &out), 2);
  EXPECT_THAT(out, HasSubstr("--config"));
  EXPECT_EQ(RunCommand({kProxyBin, "--help"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("--check"));
}

TEST(ProcessTest, PortInUseIsAClearStartupError) {
  EchoBackend a("a");
  ProxyProcess first(ConfigFor(a));
  ASSERT_TRUE(first.ok()) << first.Log();
  TempDir dir;
  std::string config = ConfigFor(a);
  config = absl::StrReplaceAll(config, {{"127.0.0.1:0", first.address()}});
  std::string out;
  EXPECT_EQ(RunCommand({kProxyBin, "--config", dir.WriteFile("p.yaml", config)}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("cannot listen on " + first.address()));
}

// grpc.health.v1.Health/Check on the proxy's data port; field 1 of the answer is the
// status (SERVING = 1, NOT_SERVING = 2).
std::string HealthOf(const ProxyProcess& proxy) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  std::string answer;
  grpc::Status s =
      CallGeneric(proxy.NewChannel(), "/grpc.health.v1.Health/Check", &ctx, "", &answer);
  if (!s.ok()) return "error: " + s.error_message();
  return answer == std::string("\x08\x01", 2)   ? "SERVING"
         : answer == std::string("\x08\x02", 2) ? "NOT_SERVING"
                                                : "unexpected answer";
}

TEST(ProcessTest, TheProxyAnswersHealthItselfAndReportsNotServingWhileDraining) {
  EchoBackend a("a");
  ProxyProcess proxy(ConfigFor(a, "drain_delay: 1500ms"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  EXPECT_EQ(HealthOf(proxy), "SERVING");
  EXPECT_EQ(a.total_calls(), 0) << "the health check was forwarded to a backend";
  proxy.process().Signal(SIGTERM);
  absl::SleepFor(absl::Milliseconds(300));
  // Draining: health says so, and calls are still served until the delay is over.
  EXPECT_EQ(HealthOf(proxy), "NOT_SERVING");
  auto stub = Echo::NewStub(proxy.NewChannel());
  grpc::ClientContext ctx;
  EchoResponse response;
  EXPECT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
  std::optional<int> code = proxy.process().WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(proxy.Log(), HasSubstr("health NOT_SERVING; draining in 1.5s"));
}

TEST(ProcessTest, WatchConfigReloadsWhenTheFileChanges) {
  EchoBackend a("a"), b("b");
  const std::string config = absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
watch_config: true
pools:
  - { name: a, endpoints: ["@A@"] }
  - { name: b, endpoints: ["@B@"] }
routes:
  - name: all
    split: [ { pool: @POOL@, weight: 1 } ]
)",
                                                 {{"@A@", a.address()}, {"@B@", b.address()}});
  ProxyProcess proxy(absl::StrReplaceAll(config, {{"@POOL@", "a"}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  auto served_by = [&] {
    grpc::ClientContext ctx;
    EchoResponse response;
    EXPECT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
    return response.backend();
  };
  EXPECT_EQ(served_by(), "a");
  // Replace the file as a ConfigMap update does: a new file renamed over the old one.
  {
    std::ofstream out(proxy.config_path() + ".new");
    out << absl::StrReplaceAll(config, {{"@POOL@", "b"}});
  }
  ASSERT_EQ(rename((proxy.config_path() + ".new").c_str(), proxy.config_path().c_str()), 0);
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (served_by() != "b" && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(served_by(), "b") << proxy.Log();
  EXPECT_THAT(proxy.Log(), HasSubstr("the config file changed: reloaded"));
  // A broken edit is refused and changes nothing.
  {
    std::ofstream out(proxy.config_path());
    out << "listen: [broken\n";
  }
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_EQ(served_by(), "b");
  EXPECT_THAT(proxy.Log(), HasSubstr("reload rejected, nothing changed"));
}

TEST(ProcessTest, SigtermLetsInFlightCallsFinishThenExitsZero) {
  EchoBackend a("a");
  ProxyProcess proxy(ConfigFor(a, "drain_timeout: 5s"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());

  constexpr int kCalls = 8;
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::async(std::launch::async, [&stub] {
      grpc::ClientContext ctx;
      EchoRequest request;
      request.set_sleep_ms(400);
      EchoResponse response;
      return stub->Unary(&ctx, request, &response);
    }));
  }
  ASSERT_TRUE(a.WaitFor([&] { return a.active_calls() == kCalls; }, absl::Seconds(5)));
  const absl::Time sent = absl::Now();
  proxy.process().Signal(SIGTERM);
  for (auto& call : calls) {
    grpc::Status status = call.get();
    EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  }
  std::optional<int> code = proxy.process().WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(code.has_value()) << "proxy did not exit";
  EXPECT_EQ(*code, 0) << proxy.Log();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(3));
  EXPECT_THAT(proxy.Log(), HasSubstr("draining"));

  // Once it has gone, new calls are refused rather than hanging.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  EchoResponse response;
  EXPECT_EQ(stub->Unary(&ctx, EchoRequest(), &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(ProcessTest, StreamsOpenAcrossASigtermFinishWithoutAFailure) {
  EchoBackend a("a");
  ProxyProcess proxy(ConfigFor(a, "drain_timeout: 5s\ndrain_delay: 200ms"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  constexpr int kStreams = 5;
  grpc::ClientContext ctx[kStreams];
  std::unique_ptr<grpc::ClientReaderWriter<EchoRequest, EchoResponse>> streams[kStreams];
  auto ping = [&](int i) {
    EchoResponse response;
    return streams[i]->Write(EchoRequest()) && streams[i]->Read(&response);
  };
  for (int i = 0; i < kStreams; ++i) {
    streams[i] = stub->Bidi(&ctx[i]);
    ASSERT_TRUE(ping(i));
  }
  proxy.process().Signal(SIGTERM);
  // The streams that started before the signal go on working through the drain...
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < kStreams; ++i) EXPECT_TRUE(ping(i)) << "stream " << i;
    absl::SleepFor(absl::Milliseconds(50));
  }
  // ...and end OK when their clients close them.
  for (int i = 0; i < kStreams; ++i) {
    streams[i]->WritesDone();
    grpc::Status status = streams[i]->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  std::optional<int> code = proxy.process().WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << proxy.Log();
}

TEST(ProcessTest, CallsOutlivingTheDrainTimeoutAreCancelledAndTheProxyStillExits) {
  EchoBackend a("a");
  ProxyProcess proxy(ConfigFor(a, "drain_timeout: 300ms"));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  auto call = std::async(std::launch::async, [&stub] {
    grpc::ClientContext ctx;
    EchoRequest request;
    request.set_sleep_ms(10000);
    EchoResponse response;
    return stub->Unary(&ctx, request, &response);
  });
  ASSERT_TRUE(a.WaitFor([&] { return a.active_calls() == 1; }, absl::Seconds(5)));
  const absl::Time sent = absl::Now();
  proxy.process().Signal(SIGTERM);
  std::optional<int> code = proxy.process().WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << proxy.Log();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(2));
  EXPECT_FALSE(call.get().ok());
  // The backend learns that the call is gone.
  EXPECT_TRUE(a.WaitFor([&] { return a.active_calls() == 0; }, absl::Seconds(3)));
}

// log_format: json: every line the proxy writes on stderr is one JSON object, with its
// level; the listening lines on stdout stay text (tools wait for them).
TEST(ProcessTest, JsonLogsAreOneObjectPerLineWithTheirLevel) {
  EchoBackend a("a");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
log_format: json
pools:
  - { name: a, endpoints: ["@A@"] }
routes:
  - { name: all, split: [ { pool: a, weight: 1 } ] }
)",
                                         {{"@A@", a.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  // A reload that fails (the file is now broken) is logged as an error.
  {
    std::ofstream out(proxy.config_path());
    out << "listen: [broken\n";
  }
  proxy.process().Signal(SIGHUP);
  proxy.process().WaitForLine(R"(("level":"error"))", absl::Seconds(10));
  proxy.process().Signal(SIGTERM);
  ASSERT_EQ(proxy.process().WaitForExit(absl::Seconds(10)), 0) << proxy.Log();
  int objects = 0;
  bool error_seen = false, info_seen = false;
  for (absl::string_view line : absl::StrSplit(proxy.Log(), '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, "listening on")) continue;  // stdout, for tools
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(j.is_object()) << "not a JSON object: " << line;
    EXPECT_EQ(j["logger"], "rollout-proxy");
    EXPECT_TRUE(j["time"].is_string());
    ++objects;
    if (j["level"] == "error") {
      error_seen = true;
      EXPECT_THAT(j["msg"].get<std::string>(), HasSubstr("SIGHUP: "));
    }
    info_seen |= j["level"] == "info";
  }
  EXPECT_GE(objects, 3);  // state note, the reload's error, the drain
  EXPECT_TRUE(error_seen);
  EXPECT_TRUE(info_seen);
}

TEST(ProcessTest, AnUnknownLogFormatIsAConfigError) {
  TempDir dir;
  const std::string path =
      dir.WriteFile("bad.yaml", "listen: 127.0.0.1:0\nlog_format: xml\npools: []\nroutes: []\n");
  std::string out;
  EXPECT_EQ(RunCommand({kProxyBin, "--config", path, "--check"}, &out), 2);
  EXPECT_THAT(out, HasSubstr("log_format: must be text or json"));
}

}  // namespace
}  // namespace rollout::testing
