// The rollout engine driving blue_green, shadow and ab_test rollouts end to end on the fake
// clock: switches, rollback windows, agreement and verdicts.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rollout/engine_fixture.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

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
  spec.analysis.max_mismatch_rate = 0.5;  // the absolute check a shadow needs; it holds here
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

TEST_F(RolloutEngineTest, AbTestGivesAVerdictAndWaits) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kAbTest;
  spec.steps = {50};
  spec.duration = absl::Seconds(30);
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  EXPECT_EQ(Share("v2"), 50);
  // The start says how many calls the test needs (the fake source has no traffic yet).
  EXPECT_THAT(engine_->Get("infer")->decisions[0].detail,
              HasSubstr("calls per arm to tell the error rates apart by the margin at a 0.50% "
                        "error rate (stable has no traffic to go by yet)"));
  // Too few calls to judge: it collects, and says how many it needs.
  source_.stats = {{"v1", Latencies(0, {{0.010, 60}})}, {"v2", Latencies(0, {{0.010, 60}})}};
  Interval();
  EXPECT_EQ(LastKind(), "hold");
  EXPECT_THAT(engine_->Get("infer")->decisions.back().detail,
              HasSubstr("collecting: v1 60 calls (0 errors), v2 60 calls (0 errors); needs "
                        "about "));
  // The candidate is clearly slower and has more errors: shown worse at the next look,
  // before the test's end.
  source_.stats = {{"v1", Latencies(5, {{0.010, 900}, {0.020, 100}})},
                   {"v2", Latencies(40, {{0.010, 300}, {0.020, 700}})}};
  Interval();
  const Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kConcluded);  // no automatic promotion unless configured
  EXPECT_EQ(Share("v2"), 50);
  const nlohmann::json& v = r.decisions.back().data;
  EXPECT_EQ(v["candidate"]["requests"], 1060);
  EXPECT_TRUE(v["verdict"]["any_inferior"].get<bool>());
  EXPECT_EQ(v["verdict"]["metrics"][0]["verdict"], "inferior");
  EXPECT_EQ(v["verdict"]["metrics"][1]["verdict"], "inferior");
  EXPECT_LT(v["fixed_horizon"]["error_p_value"].get<double>(), 1e-6);  // kept for reference
  EXPECT_THAT(r.decisions.back().detail,
              HasSubstr("A/B verdict: the candidate is worse than stable by more than its margin: "
                        "errors: inferior (+3.30 points"));
  EXPECT_THAT(r.decisions.back().detail, HasSubstr("waiting for promote or abort"));
  ASSERT_TRUE(engine_->Abort("bob", "infer", "A/B says no").ok());
  EXPECT_EQ(Share("v1"), 100);
}

TEST_F(RolloutEngineTest, AbTestAutoPromotesWhenNotWorse) {
  RolloutSpec spec = Canary();
  spec.strategy = Strategy::kAbTest;
  spec.steps = {50};
  spec.sample_size = 100000;
  spec.auto_promote = true;
  // Stable's traffic before the start (1000 calls in 10 s; 50 calls/s per arm after it).
  source_.stats = {{"v1", Latencies(5, {{0.010, 1000}})}};
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  EXPECT_THAT(engine_->Get("infer")->decisions[0].detail,
              HasSubstr(" calls per arm to tell the error rates apart by the margin (about "));
  EXPECT_THAT(engine_->Get("infer")->decisions[0].detail,
              HasSubstr(" at 50 calls/s per arm) at stable's 0.50% error rate"));
  // 1000 calls per arm look alike, but cannot show the candidate within half a point of
  // stable's errors: no promotion on "no significant difference".
  source_.stats = {{"v1", Latencies(5, {{0.010, 500}, {0.020, 500}})},
                   {"v2", Latencies(6, {{0.010, 510}, {0.020, 490}})}};
  Interval();
  EXPECT_EQ(LastKind(), "hold");
  // 10000 more per arm do.
  source_.stats = {{"v1", Latencies(50, {{0.010, 5000}, {0.020, 5000}})},
                   {"v2", Latencies(52, {{0.010, 5050}, {0.020, 4950}})}};
  Interval();
  const Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kPromoted);
  EXPECT_THAT(r.outcome_reason,
              HasSubstr("the candidate is no worse than stable on every metric: errors: "
                        "non-inferior"));
  EXPECT_EQ(Share("v2"), 100);
}

}  // namespace
}  // namespace rollout::control
