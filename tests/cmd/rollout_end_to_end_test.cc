// Rollouts end to end with real processes: demo-model-server versions behind a real
// rollout-proxy, live KServe traffic, and rolloutctl driving and following the rollout.
// A good version is promoted by its metrics; a faulty one is aborted with the reason; a
// proxy killed with -9 in the middle goes on from the step it had reached.
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/support/http_get.h"
#include "tests/support/http_receiver.h"
#include "tests/support/inference_load.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kAdminSecret[] = "release-bot-secret-0123456789";

class RolloutEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(v1_.ok() && v2_.ok() && v3_.ok());
    dir_.WriteFile("admin.tokens", absl::StrCat("release-bot admin ", kAdminSecret, "\n"));
    token_ = dir_.WriteFile("bot.token", kAdminSecret);
    StartProxy();
  }

  void StartProxy() {
    proxy_.reset();
    proxy_ = std::make_unique<ProxyProcess>(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
metrics: { listen: 127.0.0.1:0 }
admin: { listen: 127.0.0.1:0, token_file: @DIR@/admin.tokens }
state_dir: @DIR@/state
notifications: { webhooks: ["@HOOK@"] }
pools:
  - { name: v1, endpoints: ["@V1@"] }
  - { name: v2, endpoints: ["@V2@"] }
  - { name: v3, endpoints: ["@V3@"] }
routes:
  - name: infer
    match: { method_prefix: /inference.GRPCInferenceService/ }
    split: [ { pool: v1, weight: 100 } ]
)",
                                                                {{"@DIR@", dir_.path()},
                                                                 {"@HOOK@", hooks_.url()},
                                                                 {"@V1@", v1_.address()},
                                                                 {"@V2@", v2_.address()},
                                                                 {"@V3@", v3_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
  }

  int Ctl(std::vector<std::string> args, std::string* out,
          absl::Duration timeout = absl::Seconds(30)) {
    std::vector<std::string> argv = {kRolloutctlBin, "--admin", proxy_->admin_address(),
                                     "--token-file", token_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out, timeout);
  }

  nlohmann::json Get() {
    std::string out;
    EXPECT_EQ(Ctl({"--json", "rollout", "get", "infer"}, &out), 0) << out;
    return nlohmann::json::parse(out, nullptr, false);
  }

  TempDir dir_;
  DemoServerProcess v1_{{"--version", "v1"}};
  DemoServerProcess v2_{{"--version", "v2"}};
  DemoServerProcess v3_{{"--version", "v3", "--error-rate", "0.3"}};
  HttpReceiver hooks_;
  std::string token_;
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(RolloutEndToEndTest, GoodCanaryIsPromotedAndFaultyOneIsAborted) {
  InferenceLoad load(proxy_->address());
  std::string out;
  ASSERT_EQ(Ctl({"rollout",
                 "start",
                 "infer",
                 "--stable",
                 "v1",
                 "--candidate",
                 "v2",
                 "--steps",
                 "20,50",
                 "--interval",
                 "1s",
                 "--min-requests",
                 "20",
                 "--max-error-rate",
                 "0.05",
                 "--max-p99",
                 "1s",
                 "--failure-limit",
                 "2",
                 "--notes",
                 "v2: retrained",
                 "--reason",
                 "release v2"},
                &out),
            0)
      << out;
  EXPECT_THAT(out, AllOf(HasSubstr("rollout #1 on infer: canary v1 -> v2, progressing, step 1/2"),
                         HasSubstr("v2 at 20%")));
  ASSERT_EQ(Ctl({"rollout", "events", "infer", "--until-done"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("step"), HasSubstr("analysis passed: error rate"),
                         HasSubstr("promote"), HasSubstr("v2 now takes 100%")));
  load.Take();
  absl::SleepFor(absl::Milliseconds(500));
  auto served = load.Take();
  EXPECT_GT(served["v2"][true], 50);
  EXPECT_EQ(served["v1"][true], 0) << "all new calls go to the promoted version";

  // v3 fails 30% of its calls: two failed analyses in a row abort it.
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v2", "--candidate", "v3", "--steps",
                 "20,50", "--interval", "1s", "--min-requests", "20", "--max-error-rate", "0.05",
                 "--failure-limit", "2", "--reason", "release v3"},
                &out),
            0)
      << out;
  EXPECT_EQ(Ctl({"rollout", "events", "infer", "--until-done"}, &out), 1) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("analysis failed (1/2)"),
                         HasSubstr("aborted: 2 failed analyses in a row"),
                         HasSubstr("vs max 5.00% FAIL"), HasSubstr("v2 back to 100%")));
  load.Take();
  absl::SleepFor(absl::Milliseconds(500));
  served = load.Take();
  EXPECT_EQ(served["v3"][true] + served["v3"][false], 0);
  EXPECT_GT(served["v2"][true], 50);

  // The release history, the audit log and the metrics tell the same story.
  ASSERT_EQ(Ctl({"history", "infer"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("#1    infer      canary     v1 -> v2  promoted"),
                         HasSubstr("notes: v2: retrained"),
                         HasSubstr("#2    infer      canary     v2 -> v3  aborted")));
  ASSERT_EQ(Ctl({"--json", "audit", "--route", "infer"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("RolloutStart"), HasSubstr("RolloutPromote"),
                         HasSubstr("RolloutAbort"), HasSubstr("rollout-engine")));
  absl::StatusOr<std::string> metrics = HttpGet(proxy_->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_THAT(
      *metrics,
      AllOf(HasSubstr("rollout_proxy_rollout_phase{route=\"infer\",phase=\"aborted\"} 1"),
            HasSubstr("rollout_proxy_rollout_phase{route=\"infer\",phase=\"progressing\"} 0"),
            HasSubstr("rollout_proxy_rollout_step{route=\"infer\"} 1")));
  ASSERT_EQ(Ctl({"status"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("rollout #2 canary v2 -> v3: aborted"),
                         HasSubstr("active version: v2")));
  // The webhook got every phase change, as JSON, in order.
  std::vector<std::string> events;
  for (const std::string& body : hooks_.WaitFor(6, absl::Seconds(10))) {
    const nlohmann::json e = nlohmann::json::parse(body);
    events.push_back(absl::StrCat(e["event"].get<std::string>(), "#", e["release"].get<int>()));
  }
  EXPECT_THAT(events, ::testing::ElementsAre("RolloutStart#1", "RolloutStep#1", "RolloutPromote#1",
                                             "RolloutStart#2", "RolloutAbort#2"));
}

TEST_F(RolloutEndToEndTest, KillNineMidRolloutGoesOnFromTheSameStep) {
  auto load = std::make_unique<InferenceLoad>(proxy_->address());
  std::string out;
  ASSERT_EQ(
      Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
           "10,30,60,90", "--interval", "1s", "--min-requests", "20", "--max-error-rate", "0.05"},
          &out),
      0)
      << out;
  // Wait for step 2, then kill -9.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  nlohmann::json before;
  while (absl::Now() < give_up) {
    before = Get();
    if (before["step"] == 2) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(before["step"], 2) << before.dump();
  proxy_->process().Signal(SIGKILL);
  ASSERT_TRUE(proxy_->process().WaitForExit(absl::Seconds(5)).has_value());
  StartProxy();
  load->Retarget(proxy_->address());
  const nlohmann::json after = Get();
  // Where it was (or one step on, if a step was committed between the read and the kill).
  EXPECT_EQ(after["phase"], "progressing") << after.dump();
  EXPECT_GE(after["step"].get<int>(), 2);
  EXPECT_LE(after["step"].get<int>(), 3);
  EXPECT_EQ(after["decisions"].back()["kind"], "restore");
  EXPECT_THAT(after["decisions"].back()["detail"].get<std::string>(),
              HasSubstr("proxy restarted: progressing"));
  ASSERT_EQ(Ctl({"rollout", "events", "infer", "--until-done"}, &out, absl::Seconds(40)), 0) << out;
  EXPECT_EQ(Get()["outcome"], "promoted");
}

TEST_F(RolloutEndToEndTest, BlueGreenPreviewsBehindTheHeaderThenSwitchesAtOnce) {
  InferenceLoad plain(proxy_->address());
  InferenceLoad preview(proxy_->address(), "v2");  // testers reach the preview through the header
  std::string out;
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--strategy", "blue_green", "--stable", "v1",
                 "--candidate", "v2", "--interval", "2s", "--min-requests", "20",
                 "--max-error-rate", "0.05", "--rollback-window", "1h"},
                &out),
            0)
      << out;
  absl::SleepFor(absl::Milliseconds(800));
  plain.Take();
  absl::SleepFor(absl::Milliseconds(500));
  auto served = plain.Take();
  EXPECT_EQ(served["v2"][true], 0) << "no live traffic reaches the preview";
  EXPECT_GT(served["v1"][true], 20);
  // The analysis of the header traffic passes, and the switch is atomic: 0 -> 100.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (Get()["phase"] != "rollback_window" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(Get()["phase"], "rollback_window") << Get().dump();
  plain.Take();
  absl::SleepFor(absl::Milliseconds(500));
  served = plain.Take();
  EXPECT_EQ(served["v1"][true], 0);
  EXPECT_GT(served["v2"][true], 20);
  // In the rollback window the old version stays routable, and abort flips back at once.
  InferenceLoad old(proxy_->address(), "v1");
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_GT(old.Take()["v1"][true], 5);
  ASSERT_EQ(Ctl({"rollout", "abort", "infer", "--reason", "rollback drill"}, &out), 0) << out;
  plain.Take();
  absl::SleepFor(absl::Milliseconds(500));
  served = plain.Take();
  EXPECT_EQ(served["v2"][true], 0);
  EXPECT_GT(served["v1"][true], 20);
}

TEST_F(RolloutEndToEndTest, ManualControlAndClearRefusals) {
  std::string out;
  EXPECT_EQ(Ctl({"rollout", "pause", "infer"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("FAILED_PRECONDITION: route \"infer\" has no rollout in progress"));
  EXPECT_EQ(
      Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps", "50,20"},
          &out),
      1);
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: steps[1]: 20: steps must rise"));
  EXPECT_EQ(
      Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps", "x"},
          &out),
      2);
  EXPECT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
                 "25,50", "--max-p99-ratio", "1.5"},
                &out),
            1);
  EXPECT_THAT(out, HasSubstr("canary needs an absolute threshold: set max_error_rate"));
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
                 "25,50", "--interval", "1h", "--max-error-rate", "0.05"},
                &out),
            0)
      << out;
  ASSERT_EQ(Ctl({"rollout", "watch", "infer", "--count", "1"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("step 1/2 progressing pool v2"));
  EXPECT_EQ(Ctl({"set-weight", "infer", "v1=1", "--reason", "by hand"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("held by a rollout"));
  ASSERT_EQ(Ctl({"rollout", "pause", "infer", "--reason", "looking"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("paused"));
  ASSERT_EQ(Ctl({"rollout", "resume", "infer"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"rollout", "promote", "infer", "--reason", "looks good"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("promoted by release-bot at v2 at 25% (step 1/2): looks good"));
  ASSERT_EQ(Ctl({"rollout", "get", "infer"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("start"), HasSubstr("pause"), HasSubstr("resume"),
                         HasSubstr("promote")));
}

TEST_F(RolloutEndToEndTest, ACanaryThatCannotBeJudgedStopsInconclusiveAndSaysWhy) {
  std::string out;
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
                 "10,50", "--interval", "1s", "--min-requests", "100000", "--max-error-rate",
                 "0.05", "--inconclusive-limit", "2"},
                &out),
            0)
      << out;
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (Get()["phase"] != "inconclusive" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_EQ(Get()["phase"], "inconclusive");
  ASSERT_EQ(Ctl({"status"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("rollout #1 canary v1 -> v2: inconclusive, step 1/2"),
                         HasSubstr("inconclusive: 2 analyses in a row could not decide "
                                   "(inconclusive_limit 2); last: hold: candidate answered"),
                         HasSubstr("for a person to resume, promote or abort")));
  ASSERT_EQ(Ctl({"rollout", "resume", "infer", "--reason", "lower the bar"}, &out), 0) << out;
  EXPECT_EQ(Get()["phase"], "progressing");
  ASSERT_EQ(Ctl({"rollout", "abort", "infer", "--reason", "not enough traffic today"}, &out), 0)
      << out;
}

// Analysis over PromQL: a real Prometheus scrapes the proxy, and the engine judges the
// canary on what Prometheus answers. Before Prometheus is up, the step holds ("no data").
TEST(RolloutPrometheusTest, CanaryIsJudgedOnPromQLAndHoldsWithoutData) {
  DemoServerProcess v1({"--version", "v1"});
  DemoServerProcess v2({"--version", "v2"});
  ASSERT_TRUE(v1.ok() && v2.ok());
  TempDir dir;
  dir.WriteFile("admin.tokens", absl::StrCat("release-bot admin ", kAdminSecret, "\n"));
  const std::string token = dir.WriteFile("bot.token", kAdminSecret);
  const int prometheus_port = UnusedPort();
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
metrics: { listen: 127.0.0.1:0 }
admin: { listen: 127.0.0.1:0, token_file: @DIR@/admin.tokens }
state_dir: @DIR@/state
analysis:
  source: prometheus
  prometheus: { url: "http://127.0.0.1:@PROM@", timeout: 1s }
pools:
  - { name: v1, endpoints: ["@V1@"] }
  - { name: v2, endpoints: ["@V2@"] }
routes:
  - name: infer
    split: [ { pool: v1, weight: 100 } ]
)",
                                         {{"@DIR@", dir.path()},
                                          {"@PROM@", absl::StrCat(prometheus_port)},
                                          {"@V1@", v1.address()},
                                          {"@V2@", v2.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto ctl = [&](std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {kRolloutctlBin, "--admin", proxy.admin_address(),
                                     "--token-file", token};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out, absl::Seconds(60));
  };
  InferenceLoad load(proxy.address());
  std::string out;
  ASSERT_EQ(ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
                 "30,60", "--interval", "3s", "--min-requests", "20", "--max-error-rate", "0.05",
                 "--max-p99-ratio", "3"},
                &out),
            0)
      << out;
  absl::SleepFor(absl::Seconds(4));  // one analysis with Prometheus down
  ASSERT_EQ(ctl({"rollout", "get", "infer"}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("hold: no data"), HasSubstr(absl::StrCat(prometheus_port))));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("step 2/2")));

  const std::string config = dir.WriteFile("prometheus.yml", absl::StrCat(R"(
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: rollout-proxy
    static_configs: [ { targets: ["127.0.0.1:)",
                                                                          proxy.metrics_port(),
                                                                          R"("] } ]
)"));
  ChildProcess prometheus({"/usr/bin/prometheus", "--config.file=" + config,
                           "--storage.tsdb.path=" + dir.path() + "/data",
                           absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_port),
                           "--log.level=warn"});
  ASSERT_EQ(ctl({"rollout", "events", "infer", "--until-done"}, &out), 0)
      << out << "\nprometheus log:\n"
      << prometheus.Log();
  EXPECT_THAT(out, AllOf(HasSubstr("analysis passed: error rate 0.00%"), HasSubstr("promote")));
  ASSERT_EQ(ctl({"--json", "rollout", "get", "infer"}, &out), 0) << out;
  const nlohmann::json r = nlohmann::json::parse(out);
  EXPECT_EQ(r["outcome"], "promoted");
  // The passing analyses measured traffic that Prometheus summed, with a p99 from its buckets.
  bool measured = false;
  for (const auto& d : r["decisions"]) {
    if (d["kind"] != "step" && d["kind"] != "promote") continue;
    const nlohmann::json data = nlohmann::json::parse(d["data_json"].get<std::string>());
    for (const auto& c : data["checks"]) measured = measured || c["name"] == "p99_ratio";
  }
  EXPECT_TRUE(measured) << out;
}

}  // namespace
}  // namespace rollout::testing
