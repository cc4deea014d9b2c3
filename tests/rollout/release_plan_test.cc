// Release plans on a fake clock: a scheduled start, and steps that advance only inside the
// release window while the analyses (and aborts) go on outside it.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rollout/engine_fixture.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

// The fixture's clock starts on Friday 2027-01-15 at 08:00 UTC.
ReleaseWindow Window(const std::string& hours) {
  return *ReleaseWindow::Parse("mon-fri", hours, "UTC");
}

TEST_F(RolloutEngineTest, AScheduledRolloutWaitsWithNoTrafficUntilItsTime) {
  RolloutSpec spec = Canary();
  spec.start_at = now_ + absl::Hours(2);
  auto r = engine_->Start("alice", spec, "tonight");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->phase, Phase::kScheduled);
  EXPECT_THAT(
      r->decisions.back().detail,
      HasSubstr("scheduled, no traffic until it starts at 2027-01-15T10:00:00+00:00 (in 2h)"));
  EXPECT_EQ(Share("v2"), 0);
  EXPECT_EQ(controller_->Current().weights_source.at("infer"), "rollout");  // held already
  source_.stats = {{"v1", Traffic(1000, 2, 0.010)}, {"v2", Traffic(200, 1, 0.012)}};
  Interval(absl::Minutes(30));
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kScheduled);
  EXPECT_EQ(source_.queries, 0) << "nothing is judged before the start";
  Restart();                 // a restart keeps the plan
  Interval(absl::Hours(2));  // the start time came: step 1
  const Release started = *engine_->Get("infer");
  EXPECT_EQ(started.phase, Phase::kProgressing);
  EXPECT_EQ(Share("v2"), 5);
  EXPECT_THAT(started.decisions.back().detail, HasSubstr("v2 at 5% (step 1/3)"));
}

TEST_F(RolloutEngineTest, OutsideItsWindowARolloutHoldsAndStepsWhenItOpens) {
  RolloutSpec spec = Canary();
  spec.window = Window("09:00-17:00");  // opens in an hour
  auto r = engine_->Start("alice", spec, "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->phase, Phase::kWaitingForWindow);
  EXPECT_THAT(r->decisions.back().detail,
              HasSubstr("outside its window (mon-fri 09:00-17:00 UTC), no traffic yet; it opens "
                        "at 2027-01-15T09:00:00+00:00"));
  EXPECT_EQ(Share("v2"), 0);
  source_.stats = {{"v1", Traffic(1000, 2, 0.010)}, {"v2", Traffic(200, 1, 0.012)}};
  Interval(absl::Minutes(59));
  EXPECT_EQ(Share("v2"), 0);
  Interval(absl::Minutes(1));  // 09:00: step 1
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kProgressing);
  EXPECT_EQ(Share("v2"), 5);
  Interval();  // a pass inside the window steps up
  EXPECT_EQ(Share("v2"), 25);

  // 17:00: the window closes. A pass holds the step, once recorded; a failure still counts.
  now_ = absl::FromUnixSeconds(1'800'000'000) + absl::Hours(9);
  Interval();
  Release held = *engine_->Get("infer");
  EXPECT_EQ(held.phase, Phase::kWaitingForWindow);
  EXPECT_EQ(Share("v2"), 25);
  EXPECT_THAT(held.decisions.back().detail,
              HasSubstr("hold: outside the release window (mon-fri 09:00-17:00 UTC), the next "
                        "step waits until 2027-01-18T09:00:00+00:00"));
  const size_t decisions = held.decisions.size();
  Interval();
  EXPECT_EQ(engine_->Get("infer")->decisions.size(), decisions) << "said once";
  source_.stats["v2"] = Traffic(200, 50, 0.012);  // 25% errors
  Interval();
  Interval();
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kAborted) << "aborts do not wait";
  EXPECT_EQ(Share("v2"), 0);
}

TEST_F(RolloutEngineTest, AHeldRolloutGoesOnWhenTheWindowOpensAgain) {
  RolloutSpec spec = Canary();
  spec.window = Window("08:00-08:15");
  ASSERT_TRUE(engine_->Start("alice", spec, "").ok());
  EXPECT_EQ(Share("v2"), 5);  // open now
  source_.stats = {{"v1", Traffic(1000, 2, 0.010)}, {"v2", Traffic(200, 1, 0.012)}};
  Interval(absl::Minutes(20));  // closed: the pass waits
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kWaitingForWindow);
  EXPECT_EQ(Share("v2"), 5);
  now_ = absl::FromUnixSeconds(1'800'000'000) + absl::Hours(72);  // Monday 08:00
  Interval(absl::Minutes(1));
  EXPECT_EQ(engine_->Get("infer")->phase, Phase::kProgressing);
  EXPECT_EQ(Share("v2"), 25);
}

}  // namespace
}  // namespace rollout::control
