// The control plane end to end: rolloutctl as a subprocess against a real rollout-proxy
// process with an admin listener, a token file and a state_dir.
#include <signal.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "admin/access_policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rollout/admin/v1/admin.grpc.pb.h"
#include "tests/support/echo_backend.h"
#include "tests/support/generic_call.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kAliceSecret[] = "alice-secret-0123456789";
constexpr char kBobSecret[] = "bob-secret-0123456789";

class RolloutctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("admin.tokens",
                   absl::StrCat("alice admin ", kAliceSecret, "\nbob viewer ", kBobSecret, "\n"));
    alice_ = dir_.WriteFile("alice.token", absl::StrCat(kAliceSecret, "\n"));
    bob_ = dir_.WriteFile("bob.token", kBobSecret);
    wrong_ = dir_.WriteFile("wrong.token", "not-a-valid-secret-at-all");
    StartProxy();
  }

  std::string Config(const std::string& v2_weight = "10") const {
    return absl::StrReplaceAll(
        R"(
listen: 127.0.0.1:0
workers: 2
admin: { listen: 127.0.0.1:0, token_file: DIR/admin.tokens }
state_dir: DIR/state
pools:
  - { name: v1, endpoints: ["V1"] }
  - { name: v2, endpoints: ["V2"] }
routes:
  - name: echo
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: W2 } ]
)",
        {{"DIR", dir_.path()}, {"V1", v1_.address()}, {"V2", v2_.address()}, {"W2", v2_weight}});
  }

  void StartProxy() {
    proxy_.reset();
    proxy_ = std::make_unique<ProxyProcess>(Config());
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
    ASSERT_GT(proxy_->admin_port(), 0) << proxy_->Log();
  }

  // Runs rolloutctl with the given token file (none if empty); returns the exit code.
  int Ctl(const std::string& token_file, std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {kRolloutctlBin, "--admin", proxy_->admin_address()};
    if (!token_file.empty()) argv.insert(argv.end(), {"--token-file", token_file});
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out);
  }

  // How many of `n` calls pool v2 served.
  int CallsToV2(int n) {
    auto stub = Echo::NewStub(proxy_->NewChannel());
    int v2 = 0;
    for (int i = 0; i < n; ++i) {
      grpc::ClientContext ctx;
      EchoResponse response;
      EXPECT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
      v2 += response.backend() == "v2";
    }
    return v2;
  }

  uint64_t Generation() {
    std::string out;
    EXPECT_EQ(Ctl(bob_, {"--json", "routes"}, &out), 0) << out;
    return std::stoull(nlohmann::json::parse(out)["generation"].get<std::string>());
  }

  TempDir dir_;
  EchoBackend v1_{"v1"};
  EchoBackend v2_{"v2"};
  std::string alice_, bob_, wrong_;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(RolloutctlTest, SetWeightMovesTrafficAndTheAuditLogSaysWhoAndWhy) {
  std::string out;
  ASSERT_EQ(Ctl(alice_, {"set-weight", "echo", "v1=0", "v2=100", "--reason", "all to v2"}, &out), 0)
      << out;
  EXPECT_THAT(out, AllOf(HasSubstr("weights from api"), HasSubstr("100.00%")));
  EXPECT_EQ(CallsToV2(50), 50);

  ASSERT_EQ(Ctl(bob_, {"--json", "audit", "--route", "echo"}, &out), 0) << out;
  const nlohmann::json audit = nlohmann::json::parse(out);
  ASSERT_EQ(audit["entries"].size(), 1u);
  const nlohmann::json& entry = audit["entries"][0];
  EXPECT_EQ(entry["actor"], "alice");
  EXPECT_EQ(entry["verb"], "SetWeights");
  EXPECT_EQ(entry["reason"], "all to v2");
  EXPECT_EQ(nlohmann::json::parse(entry["before"].get<std::string>())["v2"], 10.0);
  EXPECT_EQ(nlohmann::json::parse(entry["after"].get<std::string>())["v2"], 100.0);
}

TEST_F(RolloutctlTest, StatusShowsSplitTrafficAndEndpointHealth) {
  CallsToV2(200);
  std::string out;
  ASSERT_EQ(Ctl(bob_, {"status"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("route echo"), HasSubstr("weights from file"),
                         HasSubstr("90.00%"), HasSubstr(v2_.address() + " (healthy)")));
  ASSERT_EQ(Ctl(bob_, {"--json", "routes", "--window", "10"}, &out), 0) << out;
  const nlohmann::json routes = nlohmann::json::parse(out)["routes"];
  EXPECT_EQ(routes[0]["split"][1]["share"], 0.1);
  uint64_t requests = 0;
  for (const auto& t : routes[0]["traffic"])
    requests += std::stoull(t["requests"].get<std::string>());
  EXPECT_EQ(requests, 200u);
}

TEST_F(RolloutctlTest, WatchPrintsPlainLinesWhenNotOnATerminal) {
  CallsToV2(100);
  std::string out;
  ASSERT_EQ(Ctl(bob_, {"rollout", "watch", "echo", "--interval", "100ms", "--count", "3"}, &out), 0)
      << out;
  int v1_lines = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    v1_lines += absl::StrContains(line, "pool v1");
  }
  EXPECT_EQ(v1_lines, 3);
  EXPECT_THAT(out, AllOf(HasSubstr("share  90.00%"), HasSubstr("rps"), HasSubstr("p99")));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("\x1b["))) << "no terminal control codes in a pipe";
  EXPECT_EQ(Ctl(bob_, {"rollout", "watch", "nope", "--count", "1"}, &out), 1);
}

TEST_F(RolloutctlTest, ExitCodesAuthenticationAndRoles) {
  std::string out;
  EXPECT_EQ(Ctl("", {"routes"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("UNAUTHENTICATED"));
  EXPECT_EQ(Ctl(wrong_, {"routes"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("UNAUTHENTICATED: invalid bearer token"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("not-a-valid-secret"))) << "a token was echoed";
  EXPECT_EQ(Ctl(bob_, {"routes"}, &out), 0) << out;
  EXPECT_EQ(Ctl(bob_, {"set-weight", "echo", "v1=1", "--reason", "x"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED: token \"bob\" has the viewer role"));
  EXPECT_EQ(Ctl(bob_, {"reload"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));

  EXPECT_EQ(Ctl(alice_, {"set-weight", "echo", "v9=1", "--reason", "x"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: weights[v9]: unknown pool \"v9\""));
  EXPECT_EQ(Ctl(alice_, {"set-weight", "echo", "v1", "--reason", "x"}, &out), 2);
  EXPECT_THAT(out, HasSubstr("not POOL=WEIGHT"));
  EXPECT_EQ(Ctl(alice_, {"set-weight", "echo", "v1=1"}, &out), 2);  // --reason is required
  EXPECT_EQ(Ctl(alice_, {}, &out), 2);
  EXPECT_EQ(Ctl(alice_, {"--help"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("Exit codes"));
  EXPECT_EQ(Ctl(alice_, {"rollout", "start", "echo"}, &out), 2);  // --stable/--candidate
  EXPECT_EQ(Ctl(alice_, {"rollout", "start", "echo", "--stable", "v1", "--candidate", "v9"}, &out),
            1);
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: candidate: unknown pool \"v9\""));
  EXPECT_EQ(Ctl(bob_, {"rollout", "abort", "echo"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED: token \"bob\" has the viewer role"));
  std::string unreachable;
  EXPECT_EQ(RunCommand({kRolloutctlBin, "--admin", "127.0.0.1:1", "--token-file", alice_, "routes"},
                       &unreachable),
            3);
}

TEST_F(RolloutctlTest, StaleGenerationIsRejectedWithTheCurrentGeneration) {
  const uint64_t g = Generation();
  std::string out;
  ASSERT_EQ(Ctl(alice_,
                {"set-weight", "echo", "v1=50", "v2=50", "--reason", "a", "--expected-generation",
                 std::to_string(g)},
                &out),
            0)
      << out;
  EXPECT_EQ(Ctl(alice_,
                {"--json", "set-weight", "echo", "v1=1", "--reason", "b", "--expected-generation",
                 std::to_string(g)},
                &out),
            1);
  EXPECT_THAT(out, AllOf(HasSubstr("\"code\":\"ABORTED\""),
                         HasSubstr(absl::StrCat("\"generation\":", g + 1))));
}

TEST_F(RolloutctlTest, ConcurrentCompareAndSetThroughTheCliHasOneWinner) {
  const uint64_t g = Generation();
  std::vector<std::future<int>> racers;
  for (int i = 0; i < 6; ++i) {
    racers.push_back(std::async(std::launch::async, [&, i] {
      std::string out;
      return Ctl(alice_,
                 {"set-weight", "echo", "v1=" + std::to_string(i + 1), "v2=1", "--reason", "race",
                  "--expected-generation", std::to_string(g)},
                 &out);
    }));
  }
  int winners = 0, rejected = 0;
  for (auto& r : racers) {
    const int code = r.get();
    winners += code == 0;
    rejected += code == 1;
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(rejected, 5);
  EXPECT_EQ(Generation(), g + 1);
}

TEST_F(RolloutctlTest, KillNineThenRestartKeepsWeightsAndAuditLog) {
  std::string out;
  ASSERT_EQ(Ctl(alice_, {"set-weight", "echo", "v1=0", "v2=1", "--reason", "before crash"}, &out),
            0)
      << out;
  const uint64_t g = Generation();
  proxy_->process().Signal(SIGKILL);
  proxy_->process().WaitForExit(absl::Seconds(5));
  StartProxy();
  EXPECT_EQ(Generation(), g) << "nothing changed, so the generation holds";
  ASSERT_EQ(Ctl(bob_, {"routes"}, &out), 0);
  EXPECT_THAT(out, AllOf(HasSubstr("weights from api"), HasSubstr("100.00%")));
  EXPECT_EQ(CallsToV2(30), 30);
  ASSERT_EQ(Ctl(bob_, {"audit"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("\"before crash\""));
  EXPECT_THAT(proxy_->Log(), HasSubstr("restored generation"));
}

TEST_F(RolloutctlTest, ReloadBySighupAndByCommandFollowsTheFileRules) {
  std::string out;
  // An invalid file: rejected whole, reason in the reply and in the log.
  std::ofstream(proxy_->config_path()) << absl::StrReplaceAll(Config(), {{"pool: v2", "pool: v7"}});
  EXPECT_EQ(Ctl(alice_, {"reload", "--reason", "typo"}, &out), 1);
  EXPECT_THAT(
      out, AllOf(HasSubstr("reload rejected, nothing changed"), HasSubstr("unknown pool \"v7\"")));
  EXPECT_THAT(proxy_->Log(), HasSubstr("unknown pool \"v7\""));
  EXPECT_EQ(CallsToV2(100) > 0, true) << "the running table must be unchanged";

  // A valid change by SIGHUP.
  std::ofstream(proxy_->config_path()) << Config("90");
  proxy_->process().Signal(SIGHUP);
  EXPECT_FALSE(proxy_->process().WaitForLine("SIGHUP: reloaded", absl::Seconds(5)).empty())
      << proxy_->Log();
  const int v2 = CallsToV2(400);
  EXPECT_GT(v2, 140);  // 50/50 now: about 200
  EXPECT_LT(v2, 260);
  ASSERT_EQ(Ctl(bob_, {"audit"}, &out), 0);
  EXPECT_THAT(out, AllOf(HasSubstr("signal"), HasSubstr("ReloadConfig")));
}

TEST_F(RolloutctlTest, ReloadAddsAPoolThatWorkersConnectToAndServe) {
  EchoBackend v3("v3");
  const std::string with_v3 = absl::StrReplaceAll(
      Config(), {{"  - { name: v2, endpoints:", "  - { name: v3, endpoints: [\"" + v3.address() +
                                                    "\"] }\n  - { name: v2, endpoints:"}});
  std::ofstream(proxy_->config_path()) << with_v3;
  std::string out;
  ASSERT_EQ(Ctl(alice_, {"reload", "--reason", "add v3"}, &out), 0) << out;
  ASSERT_EQ(Ctl(alice_, {"set-weight", "echo", "v3=1", "--reason", "all to v3"}, &out), 0) << out;
  auto stub = Echo::NewStub(proxy_->NewChannel());
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    EchoResponse response;
    ASSERT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
    EXPECT_EQ(response.backend(), "v3");
  }
  ASSERT_EQ(Ctl(bob_, {"status"}, &out), 0);
  EXPECT_THAT(out, HasSubstr(v3.address() + " (healthy)"));
}

TEST_F(RolloutctlTest, InvalidReloadsAndWeightChangesUnderLoadFailNoCall) {
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t) {
    load.emplace_back([&] {
      auto stub = Echo::NewStub(proxy_->NewChannel());
      while (!stop) {
        grpc::ClientContext ctx;
        EchoResponse response;
        (stub->Unary(&ctx, EchoRequest(), &response).ok() ? ok : failed)++;
      }
    });
  }
  auto admin = admin::v1::AdminService::NewStub(
      grpc::CreateChannel(proxy_->admin_address(), grpc::InsecureChannelCredentials()));
  auto call = [&](auto method, const auto& request, auto* response) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kAliceSecret));
    return ((*admin).*method)(&ctx, request, response);
  };
  const std::string good = Config();
  const std::string bad = absl::StrReplaceAll(good, {{"weight: 90", "weight: -90"}});
  std::ofstream(proxy_->config_path()) << bad;
  int rejected_reloads = 0, accepted_changes = 0;
  for (int i = 0; i < 100; ++i) {
    admin::v1::ReloadConfigRequest request;
    admin::v1::ReloadConfigResponse response;
    rejected_reloads +=
        !call(&admin::v1::AdminService::Stub::ReloadConfig, request, &response).ok();
  }
  std::ofstream(proxy_->config_path()) << good;
  for (int i = 0; i < 100; ++i) {
    admin::v1::SetWeightsRequest request;
    request.set_route("echo");
    (*request.mutable_weights())["v1"] = i % 2 ? 10 : 90;
    (*request.mutable_weights())["v2"] = i % 2 ? 90 : 10;
    request.set_reason("flip");
    admin::v1::SetWeightsResponse response;
    accepted_changes += call(&admin::v1::AdminService::Stub::SetWeights, request, &response).ok();
  }
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(rejected_reloads, 100);
  EXPECT_EQ(accepted_changes, 100);
  EXPECT_EQ(failed.load(), 0) << "of " << ok.load() + failed.load() << " data-plane calls";
  EXPECT_GT(ok.load(), 300);
  std::printf(
      "[ under load ] %d data-plane calls, %d failed; %d invalid reloads rejected, %d "
      "weight changes applied\n",
      ok.load() + failed.load(), failed.load(), rejected_reloads, accepted_changes);
}

TEST_F(RolloutctlTest, GlobalFlagsWorkBeforeOrAfterTheVerb) {
  std::string before, after, nested;
  ASSERT_EQ(RunCommand({kRolloutctlBin, "--json", "--admin", proxy_->admin_address(),
                        "--token-file", bob_, "routes"},
                       &before),
            0)
      << before;
  ASSERT_EQ(RunCommand({kRolloutctlBin, "routes", "--admin", proxy_->admin_address(), "--json",
                        "--token-file", bob_},
                       &after),
            0)
      << after;
  EXPECT_EQ(nlohmann::json::parse(before)["generation"],
            nlohmann::json::parse(after)["generation"]);
  // Two levels down, and mixed with the verb's own flags and arguments.
  EXPECT_EQ(RunCommand({kRolloutctlBin, "rollout", "get", "echo", "--token-file", bob_, "--admin",
                        proxy_->admin_address(), "--json"},
                       &nested),
            1);
  EXPECT_THAT(nested, HasSubstr("\"code\":\"NOT_FOUND\""));
  std::string bad;
  EXPECT_EQ(RunCommand({kRolloutctlBin, "routes", "--no-such-flag"}, &bad), 2);
  EXPECT_THAT(bad, HasSubstr("--no-such-flag"));
}

TEST(RolloutctlCliTest, EveryVerbsHelpShowsAnExampleOfItself) {
  for (const char* verb :
       {"status", "routes", "set-weight", "reload", "audit", "history", "health", "rollout",
        "rollout start", "rollout pause", "rollout resume", "rollout promote", "rollout abort",
        "rollout get", "rollout events", "rollout watch", "completion"}) {
    std::vector<std::string> argv = {kRolloutctlBin};
    for (absl::string_view w : absl::StrSplit(verb, ' ')) argv.emplace_back(w);
    argv.push_back("--help");
    std::string out;
    ASSERT_EQ(RunCommand(argv, &out), 0) << verb << ": " << out;
    EXPECT_THAT(out, HasSubstr(absl::StrCat("Example:\n  rolloutctl ", verb))) << out;
  }
}

// The script, sourced by a real bash, completes verbs at each level and the flags of the
// verb typed so far, the global ones included.
TEST(RolloutctlCliTest, TheBashCompletionCompletesVerbsAndFlags) {
  TempDir dir;
  std::string script;
  ASSERT_EQ(RunCommand({kRolloutctlBin, "completion", "bash"}, &script), 0) << script;
  const std::string path = dir.WriteFile("completion.bash", script);
  auto complete = [&](const std::string& words, int cword) {
    std::string out;
    EXPECT_EQ(RunCommand({"/bin/bash", "-c",
                          absl::StrCat("source ", path, "; COMP_WORDS=(", words, "); COMP_CWORD=",
                                       cword, "; _rolloutctl; echo \"${COMPREPLY[*]}\"")},
                         &out),
              0)
        << out;
    return std::string(absl::StripTrailingAsciiWhitespace(out));
  };
  EXPECT_EQ(complete("rolloutctl se", 1), "set-weight");
  EXPECT_EQ(complete("rolloutctl rollout p", 2), "pause promote");
  EXPECT_EQ(complete("rolloutctl --json rollout start --cand", 4), "--candidate");
  EXPECT_EQ(complete("rolloutctl rollout start --tok", 3), "--token-file");
  EXPECT_EQ(complete("rolloutctl status --win", 2), "");  // routes has --window, status not
  EXPECT_EQ(complete("rolloutctl routes --win", 2), "--window");
  std::string out;
  EXPECT_EQ(RunCommand({kRolloutctlBin, "completion", "zsh"}, &out), 2);
}

// The role check is the first line of each handler (gRPC C++ cannot refuse a call from a hook
// on a plaintext listener), so this holds every handler to it on the running server: a method
// added without the check fails here, whatever its request.
TEST_F(RolloutctlTest, EveryAdminMethodRefusesStrangersAndViewerWrites) {
  const google::protobuf::ServiceDescriptor* service =
      admin::v1::SetWeightsRequest::descriptor()->file()->FindServiceByName("AdminService");
  ASSERT_NE(service, nullptr);
  const uint64_t generation = Generation();
  auto channel = grpc::CreateChannel(proxy_->admin_address(), grpc::InsecureChannelCredentials());
  auto call = [&](const google::protobuf::MethodDescriptor* method, const char* secret) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    if (secret != nullptr) ctx.AddMetadata("authorization", absl::StrCat("Bearer ", secret));
    return CallGeneric(channel, absl::StrCat("/", service->full_name(), "/", method->name()), &ctx,
                       /*request_bytes=*/"");
  };
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service->method(i);
    EXPECT_EQ(call(method, nullptr).error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << method->name();
    EXPECT_EQ(call(method, "not-a-valid-secret-at-all").error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << method->name();
    const grpc::StatusCode viewer = call(method, kBobSecret).error_code();
    if (control::AccessPolicy::RoleFor(method->name()) == control::Role::kAdmin) {
      EXPECT_EQ(viewer, grpc::StatusCode::PERMISSION_DENIED) << method->name();
    } else {
      EXPECT_NE(viewer, grpc::StatusCode::PERMISSION_DENIED) << method->name();
      EXPECT_NE(viewer, grpc::StatusCode::UNAUTHENTICATED) << method->name();
    }
  }
  EXPECT_EQ(Generation(), generation) << "a refused call changed the state";
}

}  // namespace
}  // namespace rollout::testing
