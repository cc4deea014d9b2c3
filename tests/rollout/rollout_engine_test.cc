// The rollout engine on a fake clock and a fake metric source: every decision path, with
// no sleeps. The controller underneath is real (files in a temp dir), so weights, state
// and audit lines are the ones a proxy would publish.
#include "rollout/rollout_engine.h"

#include <map>

#include "config/config_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

constexpr char kConfig[] = R"(
listen: 127.0.0.1:0
state_dir: state
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001"] }
  - { name: v2, endpoints: ["127.0.0.1:9002"] }
routes:
  - name: infer
    sticky_key: x-user
    split: [ { pool: v1, weight: 100 } ]
)";

// Answers from a table set by the test; a missing entry is "no data".
class FakeSource final : public MetricSource {
 public:
  absl::StatusOr<PoolStats> Window(const std::string& route, const std::string& pool,
                                   absl::Duration) override {
    ++queries;
    auto it = stats.find(pool);
    if (it == stats.end()) return absl::UnavailableError("fake: no data for " + pool);
    return it->second;
  }
  std::string name() const override { return "fake"; }

  std::map<std::string, PoolStats> stats;
  int queries = 0;
};

class RecordingNotifier final : public Notifier {
 public:
  void Notify(const nlohmann::json& event) override { events.push_back(event); }
  std::vector<nlohmann::json> events;
};

PoolStats Traffic(uint64_t requests, uint64_t errors, double p99) {
  PoolStats s;
  s.requests = requests;
  s.server_errors = errors;
  s.p99_seconds = p99;
  return s;
}

class RolloutEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }

  // A fresh controller and engine over the same state_dir (a restart).
  void Restart() {
    engine_.reset();
    path_ = dir_.WriteFile("proxy.yaml", kConfig);
    absl::StatusOr<Config> config = LoadConfigFile(path_);
    ASSERT_TRUE(config.ok()) << config.status();
    auto controller = Controller::Create(*config);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    RolloutEngine::Options options;
    options.source = &source_;
    options.notifier = &notifier_;
    options.clock = [this] { return now_; };
    auto engine = RolloutEngine::Create(controller_.get(), options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }

  RolloutSpec Canary() {
    RolloutSpec spec;
    spec.route = "infer";
    spec.strategy = Strategy::kCanary;
    spec.stable = "v1";
    spec.candidate = "v2";
    spec.steps = {5, 25, 50};
    spec.analysis.interval = absl::Seconds(10);
    spec.analysis.min_requests = 100;
    spec.analysis.max_error_rate = 0.01;
    spec.analysis.max_p99_ratio = 1.5;
    spec.analysis.failure_limit = 2;
    return spec;
  }

  // Advances the fake clock by one interval and runs the engine.
  void Interval(absl::Duration d = absl::Seconds(10)) {
    now_ += d;
    engine_->Tick();
  }

  // The candidate's share (percent) in the published table.
  double Share(const std::string& pool) {
    auto table = controller_->store()->Current();
    const auto& split = table->routes()[0].split;
    for (size_t i = 0; i < split.size(); ++i) {
      if (table->pools()[split.pool(i)].name == pool) return split.PartsPerMillion(i) / 1e4;
    }
    return 0;
  }

  std::string LastKind() { return DecisionKindName(engine_->Get("infer")->decisions.back().kind); }

  testing::TempDir dir_;
  std::string path_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  FakeSource source_;
  RecordingNotifier notifier_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<RolloutEngine> engine_;
};

TEST_F(RolloutEngineTest, GoodCanaryStepsUpAndPromotes) {
  auto r = engine_->Start("alice", Canary(), "release v2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Share("v2"), 5);
  EXPECT_EQ(controller_->Current().weights_source.at("infer"), "rollout");
  source_.stats = {{"v1", Traffic(1000, 2, 0.010)}, {"v2", Traffic(200, 1, 0.012)}};

  Interval();
  EXPECT_EQ(LastKind(), "step");
  EXPECT_EQ(Share("v2"), 25);
  Interval();
  EXPECT_EQ(Share("v2"), 50);
  Interval();
  const Release done = *engine_->Get("infer");
  EXPECT_EQ(done.phase, Phase::kPromoted);
  EXPECT_EQ(Share("v2"), 100);
  EXPECT_EQ(Share("v1"), 0);
  EXPECT_THAT(done.outcome_reason, HasSubstr("last step passed"));
  // Each decision carries the measured values against the thresholds.
  const Decision& pass = done.decisions[1];
  EXPECT_STREQ(DecisionKindName(pass.kind), "step");
  EXPECT_THAT(pass.detail, HasSubstr("error rate 0.50% (1/200) vs max 1.00%"));
  EXPECT_THAT(pass.detail, HasSubstr("ratio 1.20 vs max 1.50"));
  EXPECT_EQ(pass.data["checks"][0]["name"], "error_rate");
  EXPECT_DOUBLE_EQ(pass.data["checks"][0]["measured"].get<double>(), 0.005);
  // The route is free again, and the audit log and the notifier saw every phase change.
  EXPECT_EQ(controller_->Current().weights_source.at("infer"), "api");
  auto audit = controller_->audit().Read({.route = "infer"});
  ASSERT_EQ(audit.entries.size(), 4u);
  EXPECT_EQ(audit.entries[0].verb, "RolloutStart");
  EXPECT_EQ(audit.entries[0].actor, "alice");
  EXPECT_EQ(audit.entries[3].verb, "RolloutPromote");
  EXPECT_EQ(audit.entries[3].actor, "rollout-engine");
  ASSERT_EQ(notifier_.events.size(), 4u);  // start, step, step, promote
  EXPECT_EQ(notifier_.events.back()["event"], "RolloutPromote");
  EXPECT_EQ(notifier_.events.back()["candidate_percent"], 100.0);
}

TEST_F(RolloutEngineTest, FaultyCanaryAbortsAfterFailureLimit) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  source_.stats = {{"v1", Traffic(1000, 2, 0.010)}, {"v2", Traffic(200, 20, 0.011)}};
  Interval();
  EXPECT_EQ(LastKind(), "fail");
  EXPECT_EQ(Share("v2"), 5);  // one failure: still at the step
  EXPECT_EQ(engine_->Get("infer")->consecutive_failures, 1);
  Interval();
  const Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kAborted);
  EXPECT_EQ(Share("v1"), 100);
  EXPECT_EQ(Share("v2"), 0);
  EXPECT_THAT(r.outcome_reason, HasSubstr("2 failed analyses in a row"));
  EXPECT_THAT(r.outcome_reason, HasSubstr("error rate 10.00% (20/200) vs max 1.00% FAIL"));
}

TEST_F(RolloutEngineTest, PassResetsTheFailureCount) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(200, 20, 0.011)}};
  Interval();
  EXPECT_EQ(LastKind(), "fail");
  source_.stats["v2"] = Traffic(200, 0, 0.011);
  Interval();
  EXPECT_EQ(LastKind(), "step");
  EXPECT_EQ(engine_->Get("infer")->consecutive_failures, 0);
  source_.stats["v2"] = Traffic(200, 20, 0.011);
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kProgressing);  // 1 failure, not 2
}

TEST_F(RolloutEngineTest, LowTrafficAndNoDataHoldAndNeverAbort) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  // No data at all: the source fails.
  for (int i = 0; i < 5; ++i) Interval();
  Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kProgressing);
  EXPECT_EQ(r.step, 0);
  EXPECT_THAT(r.decisions.back().detail, HasSubstr("no data"));
  // Too few calls, even all failing: hold, not fail.
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(99, 99, 5.0)}};
  for (int i = 0; i < 5; ++i) Interval();
  r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kProgressing);
  EXPECT_EQ(r.consecutive_failures, 0);
  EXPECT_STREQ(DecisionKindName(r.decisions.back().kind), "hold");
  EXPECT_THAT(r.decisions.back().detail,
              HasSubstr("99 calls in the window, below min_requests 100"));
  EXPECT_EQ(Share("v2"), 5);
  // Holds are recorded but do not notify (they are not phase changes).
  EXPECT_EQ(notifier_.events.size(), 1u);
}

TEST_F(RolloutEngineTest, AnalysisWaitsForTheInterval) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(200, 0, 0.010)}};
  Interval(absl::Seconds(9));
  EXPECT_EQ(source_.queries, 0);
  EXPECT_EQ(Share("v2"), 5);
  Interval(absl::Seconds(1));
  EXPECT_EQ(Share("v2"), 25);
}

TEST_F(RolloutEngineTest, LatencyRegressionFails) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(200, 0, 0.030)}};
  Interval();
  const Decision d = engine_->Get("infer")->decisions.back();
  EXPECT_STREQ(DecisionKindName(d.kind), "fail");
  EXPECT_THAT(d.detail, HasSubstr("p99 30.00ms vs stable 10.00ms: ratio 3.00 vs max 1.50 FAIL"));
}

TEST_F(RolloutEngineTest, PauseResumePromoteAbortByHand) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(200, 0, 0.010)}};
  ASSERT_TRUE(engine_->Pause("bob", "infer", "investigating").ok());
  for (int i = 0; i < 3; ++i) Interval();
  EXPECT_EQ(Share("v2"), 5);  // paused: nothing moves
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kPaused);
  EXPECT_EQ(engine_->Pause("bob", "infer", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(engine_->Resume("bob", "infer", "all clear").ok());
  Interval();
  EXPECT_EQ(Share("v2"), 25);
  auto promoted = engine_->Promote("bob", "infer", "ship it");
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(promoted->phase, Phase::kPromoted);
  EXPECT_EQ(Share("v2"), 100);
  EXPECT_THAT(promoted->outcome_reason,
              HasSubstr("promoted by bob at v2 at 25% (step 2/3): ship it"));
  // Nothing to act on now.
  absl::Status none = engine_->Abort("bob", "infer", "").status();
  EXPECT_EQ(none.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(none.message(), HasSubstr("the last, #1, was promoted"));

  // A second rollout, aborted by hand: v1 is the candidate now.
  RolloutSpec back = Canary();
  back.stable = "v2";
  back.candidate = "v1";
  ASSERT_TRUE(engine_->Start("carol", back, "roll back to v1").ok());
  EXPECT_EQ(Share("v1"), 5);
  auto aborted = engine_->Abort("carol", "infer", "wrong build");
  ASSERT_TRUE(aborted.ok());
  EXPECT_EQ(Share("v2"), 100);
  EXPECT_THAT(aborted->outcome_reason, HasSubstr("wrong build"));
  EXPECT_EQ(engine_->History("infer").size(), 2u);
}

TEST_F(RolloutEngineTest, OneRolloutPerRouteAndTheRouteIsHeld) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  absl::Status twice = engine_->Start("alice", Canary(), "").status();
  EXPECT_EQ(twice.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(twice.message(), HasSubstr("already has rollout #1 in progress"));
  absl::Status manual =
      controller_->SetWeights("alice", "infer", {{"v1", 50}, {"v2", 50}}, std::nullopt, "by hand")
          .status();
  EXPECT_EQ(manual.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(manual.message(), HasSubstr("held by a rollout"));
}

TEST_F(RolloutEngineTest, BadSpecsAreRefusedNamingTheField) {
  RolloutSpec spec = Canary();
  spec.candidate = "v9";
  EXPECT_THAT(engine_->Start("a", spec, "").status().message(),
              HasSubstr("candidate: unknown pool \"v9\" (pools: v1, v2)"));
  spec = Canary();
  spec.steps = {5, 50, 25};
  EXPECT_THAT(engine_->Start("a", spec, "").status().message(), HasSubstr("steps[2]"));
  spec = Canary();
  spec.analysis.max_error_rate = 2;
  EXPECT_THAT(engine_->Start("a", spec, "").status().message(), HasSubstr("max_error_rate"));
  spec = Canary();
  spec.route = "nope";
  EXPECT_THAT(engine_->Start("a", spec, "").status().message(),
              HasSubstr("unknown route \"nope\""));
  EXPECT_TRUE(engine_->History("").empty());
  EXPECT_EQ(Share("v1"), 100);
}

TEST_F(RolloutEngineTest, ProgressSurvivesARestart) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(200, 0, 0.010)}};
  Interval();
  ASSERT_EQ(Share("v2"), 25);
  Restart();  // as after kill -9: only what was committed is known
  Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kProgressing);
  EXPECT_EQ(r.step, 1);
  EXPECT_EQ(Share("v2"), 25);
  EXPECT_STREQ(DecisionKindName(r.decisions.back().kind), "restore");
  Interval();
  EXPECT_EQ(Share("v2"), 50);
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kPromoted);
  Restart();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kPromoted);
  EXPECT_EQ(Share("v2"), 100);
  EXPECT_EQ(engine_->History("").size(), 1u);
}

TEST_F(RolloutEngineTest, BlueGreenPreviewSwitchAndRollbackWindow) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kBlueGreen;
  spec.steps.clear();
  spec.rollback_window = absl::Seconds(30);
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  // Preview: no weight, but the override header reaches it.
  EXPECT_EQ(Share("v2"), 0);
  auto table = controller_->store()->Current();
  EXPECT_EQ(table->routes()[0].override_header, "x-rollout-pool");
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(150, 0, 0.010)}};
  Interval();
  Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kRollbackWindow);
  EXPECT_EQ(Share("v2"), 100);  // the atomic switch
  EXPECT_EQ(LastKind(), "switch");
  // In the window, abort flips back at once.
  auto aborted = engine_->Abort("bob", "infer", "customer complaints");
  ASSERT_TRUE(aborted.ok());
  EXPECT_EQ(Share("v1"), 100);
}

TEST_F(RolloutEngineTest, BlueGreenPromotesWhenTheWindowEnds) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kBlueGreen;
  spec.steps.clear();
  spec.rollback_window = absl::Seconds(25);
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(150, 0, 0.010)}};
  Interval();
  Interval();  // analysis passes inside the window
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kRollbackWindow);
  Interval();
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kPromoted);
  EXPECT_EQ(Share("v2"), 100);
  // Rolled back by failures in the window instead:
  RolloutSpec back = spec;
  back.stable = "v2";
  back.candidate = "v1";
  ASSERT_TRUE(engine_->Start("alice", back, "").ok());
  source_.stats = {{"v2", Traffic(1000, 0, 0.010)}, {"v1", Traffic(150, 0, 0.010)}};
  Interval();
  EXPECT_EQ(Share("v1"), 100);
  source_.stats["v1"] = Traffic(1000, 500, 0.010);
  Interval();
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kAborted);
  EXPECT_EQ(Share("v2"), 100);
}

TEST_F(RolloutEngineTest, ShadowJudgesAgreementAndPromotionStartsACanary) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kShadow;
  spec.analysis.max_mismatch_rate = 0.05;
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  auto table = controller_->store()->Current();
  EXPECT_EQ(table->pools()[table->routes()[0].mirror_pool].name, "v2");
  EXPECT_EQ(table->routes()[0].mirror_ppm, 1'000'000u);
  EXPECT_EQ(Share("v2"), 0);
  PoolStats shadow;
  shadow.mirror_match = 190;
  shadow.mirror_mismatch = 5;
  shadow.mirror_errors = 1;
  shadow.mirror_p99_seconds = 0.011;
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", shadow}};
  Interval();
  EXPECT_EQ(LastKind(), "pass");
  EXPECT_THAT(engine_->Get("infer")->decisions.back().detail,
              HasSubstr("shadow mismatch 2.56% (5/195) vs max 5.00% ok"));
  auto promoted = engine_->Promote("bob", "infer", "agreement is fine");
  ASSERT_TRUE(promoted.ok());
  const Release canary = *engine_->Get("infer");
  EXPECT_EQ(canary.spec.strategy, Strategy::kCanary);
  EXPECT_EQ(canary.follows, promoted->id);
  EXPECT_EQ(Share("v2"), 5);
  table = controller_->store()->Current();
  EXPECT_EQ(table->routes()[0].mirror_pool, -1);  // the mirror is the file's again (none)
}

TEST_F(RolloutEngineTest, ShadowJudgesItsOwnLatency) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kShadow;
  spec.analysis.max_error_rate.reset();
  spec.analysis.max_p99_ratio = 1.5;
  spec.analysis.failure_limit = 1;
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  PoolStats shadow;
  shadow.mirror_match = 200;
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", shadow}};
  Interval();
  EXPECT_THAT(engine_->Get("infer")->decisions.back().detail, HasSubstr("no shadow latency data"));
  EXPECT_EQ(LastKind(), "hold");
  shadow.mirror_p99_seconds = 0.040;
  source_.stats["v2"] = shadow;
  Interval();
  const Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kAborted);
  EXPECT_THAT(r.outcome_reason,
              HasSubstr("shadow p99 40.00ms vs stable 10.00ms: ratio 4.00 vs max 1.50 FAIL"));
}

TEST_F(RolloutEngineTest, ShadowAbortsOnDisagreement) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kShadow;
  spec.analysis.max_mismatch_rate = 0.05;
  spec.analysis.failure_limit = 1;
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  PoolStats shadow;
  shadow.mirror_match = 100;
  shadow.mirror_mismatch = 100;
  source_.stats = {{"v2", shadow}};
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kAborted);
  EXPECT_EQ(controller_->store()->Current()->routes()[0].mirror_pool, -1);
}

PoolStats Latencies(uint64_t errors, std::vector<std::pair<double, uint64_t>> bins) {
  PoolStats s;
  for (const auto& [b, n] : bins) s.requests += n;
  s.server_errors = errors;
  s.latency = std::move(bins);
  s.p99_seconds = HistogramQuantile(s.latency, 0.99);
  return s;
}

TEST_F(RolloutEngineTest, AbTestGivesAVerdictAndWaits) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kAbTest;
  spec.steps = {50};
  spec.duration = absl::Seconds(30);
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  EXPECT_EQ(Share("v2"), 50);
  // The candidate is clearly slower and has more errors.
  source_.stats = {{"v1", Latencies(5, {{0.010, 900}, {0.020, 100}})},
                   {"v2", Latencies(40, {{0.010, 300}, {0.020, 700}})}};
  Interval();
  Interval();
  EXPECT_EQ(LastKind(), "hold");
  EXPECT_THAT(engine_->Get("infer")->decisions.back().detail,
              HasSubstr("v1 2000 calls (10 errors), v2 2000 calls (80 errors)"));
  Interval();
  const Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kConcluded);  // no automatic promotion unless configured
  EXPECT_EQ(Share("v2"), 50);
  const nlohmann::json& v = r.decisions.back().data;
  EXPECT_EQ(v["candidate_requests"], 3000);
  EXPECT_LT(v["error_p_value"].get<double>(), 1e-6);
  EXPECT_LT(v["latency_p_value"].get<double>(), 1e-6);
  EXPECT_GT(v["latency_rank_biserial"].get<double>(), 0.5);
  EXPECT_TRUE(v["candidate_worse"].get<bool>());
  EXPECT_THAT(r.decisions.back().detail, HasSubstr("candidate significantly worse"));
  ASSERT_TRUE(engine_->Abort("bob", "infer", "A/B says no").ok());
  EXPECT_EQ(Share("v1"), 100);
}

TEST_F(RolloutEngineTest, AbTestAutoPromotesWhenNotWorse) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kAbTest;
  spec.steps = {50};
  spec.sample_size = 1500;
  spec.auto_promote = true;
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  source_.stats = {{"v1", Latencies(5, {{0.010, 500}, {0.020, 500}})},
                   {"v2", Latencies(6, {{0.010, 510}, {0.020, 490}})}};
  Interval();
  EXPECT_EQ(LastKind(), "hold");
  Interval();  // 2000 per arm >= sample_size
  const Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kPromoted);
  EXPECT_THAT(r.outcome_reason, HasSubstr("no significant difference"));
  EXPECT_EQ(Share("v2"), 100);
}

TEST_F(RolloutEngineTest, WatchEventsArriveInOrder) {
  const uint64_t before = engine_->LastEventSeq();
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(200, 0, 0.010)}};
  Interval();
  auto events = engine_->WaitEvents(before, "infer", absl::Now());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_STREQ(DecisionKindName(events[0].decision.kind), "start");
  EXPECT_STREQ(DecisionKindName(events[1].decision.kind), "step");
  EXPECT_EQ(events[1].release.step, 1);
  EXPECT_TRUE(engine_->WaitEvents(events[1].seq, "infer", absl::Now()).empty());
  EXPECT_TRUE(engine_->WaitEvents(before, "other", absl::Now()).empty());
}

TEST_F(RolloutEngineTest, DeclaredRolloutsRunOnce) {
  std::vector<std::string> notes = engine_->StartDeclared({Canary()});
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_THAT(notes[0], HasSubstr("started #1"));
  ASSERT_TRUE(engine_->Abort("bob", "infer", "").ok());
  Restart();
  notes = engine_->StartDeclared({Canary()});
  EXPECT_THAT(notes[0], HasSubstr("ran as #1 (aborted)"));
  EXPECT_EQ(engine_->History("").size(), 1u);
}

TEST_F(RolloutEngineTest, AReloadThatRemovesARolloutPoolAbortsIt) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  std::string without_v2 = kConfig;
  without_v2.erase(without_v2.find("  - { name: v2"),
                   std::string("  - { name: v2, endpoints: [\"127.0.0.1:9002\"] }\n").size());
  dir_.WriteFile("proxy.yaml", without_v2);
  auto reloaded = controller_->Reload("alice", "drop v2");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  Interval();
  const Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kAborted);
  EXPECT_THAT(r.outcome_reason, HasSubstr("pool \"v2\" is no longer in the config"));
  EXPECT_EQ(Share("v1"), 100);
  EXPECT_EQ(controller_->Current().weights_source.at("infer"), "file");
}

TEST(AnalysisTest, AFailedCheckIsNotMaskedByMissingLatency) {
  AnalysisSpec spec;
  spec.min_requests = 10;
  spec.max_error_rate = 0.01;
  spec.max_p99_ratio = 1.5;
  PoolStats candidate;  // no p99 from the source
  candidate.requests = 100;
  candidate.server_errors = 50;
  Verdict v = Judge(spec, candidate, Traffic(100, 0, 0.01));
  EXPECT_EQ(v.outcome, Outcome::kFail);
  candidate.server_errors = 0;
  v = Judge(spec, candidate, Traffic(100, 0, 0.01));
  EXPECT_EQ(v.outcome, Outcome::kHold);
  EXPECT_THAT(v.summary,
              HasSubstr("hold: error rate 0.00% (0/100) vs max 1.00% ok; no latency data"));
}

TEST(AnalysisTest, HistogramQuantileInterpolatesLikePrometheus) {
  std::vector<std::pair<double, uint64_t>> h = {{0.1, 50}, {0.2, 50}, {INFINITY, 0}};
  EXPECT_NEAR(*HistogramQuantile(h, 0.5), 0.1, 1e-9);
  EXPECT_NEAR(*HistogramQuantile(h, 0.75), 0.15, 1e-9);
  EXPECT_FALSE(HistogramQuantile({}, 0.5).has_value());
}

TEST(AnalysisTest, TwoProportionTestMatchesAHandComputedValue) {
  // 10/1000 vs 30/1000: pooled 0.02, se = sqrt(.02*.98*.002) = 0.006261, z = 3.194, p = 0.0014.
  ArmComparison c = CompareArms(Traffic(1000, 10, 0.01), Traffic(1000, 30, 0.01), 0.05);
  EXPECT_NEAR(c.error_p_value, 0.0014, 0.0001);
  EXPECT_NEAR(c.error_rate_difference, 0.02, 1e-12);
  EXPECT_TRUE(c.candidate_worse);
}

TEST(AnalysisTest, MannWhitneySeesNoDifferenceBetweenEqualArms) {
  PoolStats a = Latencies(0, {{0.01, 100}, {0.02, 100}, {0.03, 100}});
  ArmComparison c = CompareArms(a, a, 0.05);
  EXPECT_NEAR(c.latency_p_value, 1.0, 1e-9);
  EXPECT_NEAR(c.latency_effect, 0.0, 1e-9);
  EXPECT_FALSE(c.candidate_worse);
  EXPECT_FALSE(c.candidate_better);
}

}  // namespace
}  // namespace rollout::control
