// The rollout engine driving canaries, and what every strategy shares: pause, resume,
// promote and abort by hand, one rollout per route, restarts, watches and reloads.
#include "rollout/rollout_engine.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rollout/engine_fixture.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

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
  // The step's calls add up: both windows are judged together, beyond doubt.
  EXPECT_THAT(r.outcome_reason, HasSubstr("error rate 10.00% (40/400) vs max 1.00% FAIL ("));
  EXPECT_THAT(r.outcome_reason, HasSubstr("always-valid 99.17% interval 5.05%-17.07%"));
}

TEST_F(RolloutEngineTest, PassResetsTheFailureCount) {
  ASSERT_TRUE(engine_->Start("alice", Canary(), "").ok());
  // A latency regression the source gives as a p99 alone (no histogram to test): the
  // later window's p99 stands for the step's.
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(200, 0, 0.030)}};
  Interval();
  EXPECT_EQ(LastKind(), "fail");
  source_.stats["v2"] = Traffic(200, 0, 0.011);
  Interval();
  EXPECT_EQ(LastKind(), "step");
  EXPECT_EQ(engine_->Get("infer")->consecutive_failures, 0);
  source_.stats["v2"] = Traffic(200, 0, 0.030);
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kProgressing);  // 1 failure, not 2
}

TEST_F(RolloutEngineTest, LowTrafficAndNoDataHoldAndNeverAbort) {
  RolloutSpec spec = Canary();
  spec.analysis.inconclusive_limit = 20;  // holds here; what comes after is no_silent_outcome's
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  // No data at all: the source fails.
  for (int i = 0; i < 5; ++i) Interval();
  Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kProgressing);
  EXPECT_EQ(r.step, 0);
  EXPECT_THAT(r.decisions.back().detail, HasSubstr("no data"));
  // Too few calls, even all failing: hold, not fail. The step's calls add up: 19 an
  // interval make 95 after 5.
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(19, 19, 5.0)}};
  for (int i = 0; i < 5; ++i) Interval();
  r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kProgressing);
  EXPECT_EQ(r.consecutive_failures, 0);
  EXPECT_STREQ(DecisionKindName(r.decisions.back().kind), "hold");
  EXPECT_THAT(r.decisions.back().detail,
              HasSubstr("95 calls at this step, below min_requests 100"));
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

}  // namespace
}  // namespace rollout::control
