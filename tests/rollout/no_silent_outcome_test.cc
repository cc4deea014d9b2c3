// No silent pass, no silent hang: a rollout that could never be judged is refused at its
// start, naming what to add, and one whose analyses keep failing to decide (too little
// traffic, a metric source that errors) stops in phase inconclusive for a person, who is
// told, instead of holding for ever. On the fake clock.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rollout/engine_fixture.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

TEST_F(RolloutEngineTest, ASpecWithNoAbsoluteThresholdIsRefusedNamingWhatToAdd) {
  RolloutSpec spec = Canary();
  spec.analysis.max_error_rate.reset();  // max_p99_ratio alone: skipped at 100%, so no check
  absl::StatusOr<Release> r = engine_->Start("alice", spec, "");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(),
              HasSubstr("canary needs an absolute threshold: set max_error_rate (e.g. 0.01) or "
                        "max_p99 (e.g. 250ms)"));
  spec.strategy = Strategy::kBlueGreen;
  spec.steps.clear();
  EXPECT_THAT(engine_->Start("alice", spec, "").status().message(),
              HasSubstr("blue_green needs an absolute threshold"));
  spec.strategy = Strategy::kShadow;
  EXPECT_THAT(engine_->Start("alice", spec, "").status().message(),
              HasSubstr("set max_error_rate, max_p99 or max_mismatch_rate"));
  spec.analysis.max_p99_seconds = 0.25;  // one absolute check is enough
  EXPECT_TRUE(engine_->Start("alice", spec, "").ok());
}

TEST_F(RolloutEngineTest, TooLittleTrafficForTheLimitStopsInPhaseInconclusive) {
  RolloutSpec spec = Canary();
  spec.analysis.inconclusive_limit = 3;
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  // 30 calls an interval: 90 at the step after 3, still below min_requests 100.
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(30, 0, 0.010)}};
  Interval();
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kProgressing);
  EXPECT_EQ(engine_->Get("infer")->consecutive_holds, 2);
  Interval();
  Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kInconclusive);
  EXPECT_EQ(LastKind(), "inconclusive");
  EXPECT_THAT(r.decisions.back().detail,
              HasSubstr("inconclusive: 3 analyses in a row could not decide (inconclusive_limit "
                        "3); last: hold: candidate answered 90 calls at this step, below "
                        "min_requests 100; stopped at v2 at 5% (step 1/3) for a person to resume, "
                        "promote or abort"));
  ASSERT_FALSE(notifier_.events.empty());  // the webhooks are told
  EXPECT_EQ(notifier_.events.back()["event"], "RolloutInconclusive");
  // Nothing moves, and nothing more is recorded, until a person decides.
  const size_t decisions = r.decisions.size();
  for (int i = 0; i < 5; ++i) Interval();
  EXPECT_EQ(engine_->Get("infer")->decisions.size(), decisions);
  EXPECT_EQ(Share("v2"), 5);
  EXPECT_THAT(engine_->Pause("bob", "infer", "").status().message(),
              HasSubstr("is inconclusive, not running"));
  // Resumed, it judges again with a fresh count, and traffic now decides.
  ASSERT_TRUE(engine_->Resume("bob", "infer", "traffic is back").ok());
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kProgressing);
  EXPECT_EQ(engine_->Get("infer")->consecutive_holds, 0);
  source_.stats["v2"] = Traffic(400, 0, 0.010);
  Interval();
  EXPECT_EQ(LastKind(), "step");
  EXPECT_EQ(Share("v2"), 25);
}

TEST_F(RolloutEngineTest, AMetricSourceThatAlwaysErrorsNeverPassesAndEndsInconclusive) {
  RolloutSpec spec = Canary();
  spec.analysis.inconclusive_limit = 4;
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  source_.stats.clear();  // every query fails
  for (int i = 0; i < 10; ++i) Interval();
  const Release r = *engine_->Get("infer");
  EXPECT_EQ(r.phase, Phase::kInconclusive);
  EXPECT_EQ(r.step, 0);  // never moved on data it did not have
  EXPECT_THAT(r.decisions.back().detail, HasSubstr("no data"));
  EXPECT_EQ(Share("v2"), 5);
  // A person may still promote or abort it.
  ASSERT_TRUE(engine_->Abort("bob", "infer", "the metrics are down").ok());
  EXPECT_EQ(Share("v2"), 0);
}

TEST_F(RolloutEngineTest, APassOrAFailStartsTheCountOfHoldsAgain) {
  RolloutSpec spec = Canary();
  spec.analysis.inconclusive_limit = 3;
  spec.analysis.failure_limit = 5;
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  // A step's calls add up, so a step holds only while it has too few, then passes; a
  // failure stays in the step's tally, and no data is what can hold after it.
  const PoolStats few = Traffic(30, 0, 0.010), good = Traffic(400, 0, 0.010),
                  bad = Traffic(400, 100, 0.010);
  const std::optional<PoolStats> none;
  for (const std::optional<PoolStats>& v2 :
       {std::optional(few), std::optional(few), std::optional(good), std::optional(few),
        std::optional(few), std::optional(bad), none, none}) {
    source_.stats = {{"v1", Traffic(1000, 0, 0.010)}};
    if (v2.has_value()) source_.stats["v2"] = *v2;
    Interval();
  }
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kProgressing);
  EXPECT_EQ(engine_->Get("infer")->step, 1);
  EXPECT_EQ(engine_->Get("infer")->consecutive_failures, 1);
  EXPECT_EQ(engine_->Get("infer")->consecutive_holds, 2);
}

TEST_F(RolloutEngineTest, TheHoldCountSurvivesARestart) {
  RolloutSpec spec = Canary();
  spec.analysis.inconclusive_limit = 3;
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  source_.stats = {{"v1", Traffic(1000, 0, 0.010)}, {"v2", Traffic(20, 0, 0.010)}};
  Interval();
  Interval();
  Restart();  // the holds and the step's 40 calls so far are kept; one interval, then a look
  Interval();
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kInconclusive);
}

}  // namespace
}  // namespace rollout::control
