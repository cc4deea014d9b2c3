// The load-test gate end to end: the proxy copies a sample of the route's real requests
// (users' calls, all served by stable), replays it to the candidate alone, and judges the
// answers before step 1. A slow candidate is aborted with no user call ever reaching it
// (seen on the client side, through x-rollout-pool); a good one passes and its canary
// begins. Real processes: the proxy, demo-model-servers, rolloutctl.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cmd/release_fixture.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class LoadTestGateTest : public ReleaseProcessTest {
 protected:
  std::string MorePools() override {
    return absl::StrCat("  - { name: slow, endpoints: [\"", slow_.address(), "\"] }");
  }

  int Start(const std::string& candidate, std::vector<std::string> extra, std::string* out) {
    std::vector<std::string> args = {"rollout", "start",
                                     "infer",   "--stable",
                                     "stable",  "--candidate",
                                     candidate, "--steps",
                                     "50",      "--interval",
                                     "1s",      "--min-requests",
                                     "20",      "--max-error-rate",
                                     "0.05",    "--max-p99",
                                     "100ms"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ctl(args, out);
  }
  // Waits until the rollout leaves phase gating; returns it.
  nlohmann::json PastTheGates(absl::Duration timeout) {
    const absl::Time give_up = absl::Now() + timeout;
    nlohmann::json r = Rollout();
    while (r["phase"] == "gating" && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(200));
      r = Rollout();
    }
    return r;
  }
  // Past its gates, the one-step canary runs, or (on a slow machine, by the time it is
  // looked at) has been promoted already.
  static ::testing::Matcher<const nlohmann::json&> Begun() {
    return ::testing::AnyOf(nlohmann::json("progressing"), nlohmann::json("promoted"));
  }
  static nlohmann::json GateData(const nlohmann::json& gate) {
    return nlohmann::json::parse(gate.value("data_json", "{}"), nullptr, false);
  }

  DemoServerProcess slow_{{"--version", "v4", "--extra-latency-ms", "150"}};
};

TEST_F(LoadTestGateTest, ASlowCandidateFailsBeforeAnyUserCallReachesIt) {
  ASSERT_TRUE(slow_.ok());
  InferenceLoad load(proxy_->address());
  absl::SleepFor(absl::Milliseconds(300));
  std::string out;
  ASSERT_EQ(Start("slow", {"--load-test", "2s", "--load-test-rate", "20"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("at the load_test gate, no traffic yet"));
  const nlohmann::json r = PastTheGates(absl::Seconds(20));
  EXPECT_EQ(r["outcome"], "aborted");
  EXPECT_THAT(r["outcome_reason"].get<std::string>(),
              AllOf(HasSubstr("aborted at the load_test gate: replayed 100 requests of route "
                              "infer to slow at 20/s for 2s"),
                    HasSubstr("vs max 100.00ms FAIL")));
  ASSERT_EQ(r["gates"].size(), 2u);
  const nlohmann::json& gate = r["gates"][1];
  EXPECT_EQ(gate["name"], "load_test");
  EXPECT_EQ(gate["state"], "failed");
  const nlohmann::json data = GateData(gate);
  EXPECT_EQ(data["sample"]["requests"], 100);
  EXPECT_EQ(data["calls"], 40);
  EXPECT_EQ(data["codes"]["OK"], 40);  // it answered, too slowly
  EXPECT_GE(data["verdict"]["windows"]["candidate"]["p99_seconds"].get<double>(), 0.150);
  // Users were served by stable all along: the slow pool never answered one of them.
  const auto served = load.Take();
  EXPECT_GT(served.at("stable").at(true), 500);
  EXPECT_EQ(served.count("slow"), 0u);
}

TEST_F(LoadTestGateTest, AGoodCandidatePassesAndItsCanaryBegins) {
  InferenceLoad load(proxy_->address());
  absl::SleepFor(absl::Milliseconds(300));
  std::string out;
  ASSERT_EQ(
      Start("canary", {"--load-test", "2s", "--load-test-rate", "30", "--load-test-sample", "25"},
            &out),
      0)
      << out;
  absl::SleepFor(absl::Milliseconds(1200));
  nlohmann::json r = Rollout();
  EXPECT_EQ(r["phase"], "gating");  // the test runs: progress in the status, no user traffic
  EXPECT_THAT(r["gates"][1]["detail"].get<std::string>(),
              HasSubstr("replaying 25 requests of route infer to canary at 30/s for 2s"));
  EXPECT_EQ(load.Take().count("canary"), 0u);
  r = PastTheGates(absl::Seconds(20));
  EXPECT_THAT(r["phase"], Begun());
  const nlohmann::json& gate = r["gates"][1];
  EXPECT_EQ(gate["state"], "passed");
  EXPECT_EQ(gate["by"], "rollout-engine");
  EXPECT_THAT(gate["detail"].get<std::string>(),
              AllOf(HasSubstr("error rate 0.00% (0/60) vs max 5.00% ok"), HasSubstr("p99")));
  EXPECT_EQ(GateData(gate)["sample"]["requests"], 25);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_GT(load.Take()["canary"][true], 20);  // step 1: users reach the candidate now
  // The record says what the gate did, once per stage, not once a second.
  ASSERT_EQ(Ctl({"--json", "rollout", "get", "infer"}, &out, viewer_), 0);
  const nlohmann::json full = nlohmann::json::parse(out);
  int holds = 0;
  for (const auto& d : full["decisions"]) holds += d["kind"] == "hold" ? 1 : 0;
  EXPECT_LE(holds, 5) << out;
}

TEST_F(LoadTestGateTest, NoTrafficToSampleAbortsAtTheTimeout) {
  std::string out;
  ASSERT_EQ(Start("canary", {"--load-test", "2s", "--load-test-timeout", "2s"}, &out), 0) << out;
  const nlohmann::json r = PastTheGates(absl::Seconds(15));
  EXPECT_EQ(r["outcome"], "aborted");
  EXPECT_THAT(r["outcome_reason"].get<std::string>(),
              HasSubstr("aborted at the load_test gate: load test not run: no request of route "
                        "infer came within 2s to sample"));
}

TEST_F(LoadTestGateTest, AnAbortStopsTheTestUnderWay) {
  InferenceLoad load(proxy_->address());
  std::string out;
  ASSERT_EQ(Start("canary", {"--load-test", "60s"}, &out), 0) << out;
  absl::SleepFor(absl::Milliseconds(1500));
  ASSERT_EQ(Ctl({"rollout", "abort", "infer", "--reason", "not today"}, &out), 0) << out;
  const nlohmann::json r = Rollout();
  EXPECT_EQ(r["outcome"], "aborted");
  EXPECT_EQ(load.Take().count("canary"), 0u);
  // The next rollout on the route gets a sample of its own, and is not blocked by the last.
  ASSERT_EQ(Start("canary", {"--load-test", "1s", "--load-test-rate", "30"}, &out), 0) << out;
  EXPECT_THAT(PastTheGates(absl::Seconds(15))["phase"], Begun());
}

TEST_F(LoadTestGateTest, AProxyKilledDuringTheTestStartsItAgainAfterItsRestart) {
  InferenceLoad load(proxy_->address());
  std::string out;
  ASSERT_EQ(Start("canary", {"--load-test", "2s", "--load-test-rate", "30"}, &out), 0) << out;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (Rollout()["gates"][1]["detail"].get<std::string>().find("replaying") ==
             std::string::npos &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  KillAndRestart();
  load.Retarget(proxy_->address());
  const nlohmann::json r = PastTheGates(absl::Seconds(20));
  EXPECT_THAT(r["phase"], Begun());
  EXPECT_EQ(r["gates"][1]["state"], "passed");
  EXPECT_EQ(GateData(r["gates"][1])["calls"], 60);  // a whole test, after the restart
  ASSERT_EQ(Ctl({"--json", "rollout", "get", "infer"}, &out, viewer_), 0);
  EXPECT_THAT(out, HasSubstr("proxy restarted: gating"));
}

TEST_F(LoadTestGateTest, ASpecThatCannotBeJudgedIsRefused) {
  std::string out;
  EXPECT_EQ(Ctl({"rollout", "start", "infer", "--stable", "stable", "--candidate", "canary",
                 "--load-test", "2s", "--min-requests", "20"},
                &out),
            1);
  EXPECT_THAT(out, HasSubstr("load_test: needs max_error_rate or max_p99 to judge the replayed "
                             "calls by"));
  EXPECT_EQ(Start("canary", {"--load-test", "500ms", "--load-test-rate", "10"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("rate x duration makes 5 calls, fewer than min_requests 20"));
  EXPECT_EQ(Start("canary", {"--load-test", "soon"}, &out), 2);
  EXPECT_THAT(out, HasSubstr("--load-test: \"soon\" is not a duration"));
}

}  // namespace
}  // namespace rollout::testing
