// Each strategy alone, as a pure function of the release and the windows: no engine, no
// controller, no clock.
#include "rollout/strategy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Release Started(Strategy strategy) {
  Release r;
  r.id = 7;
  r.spec.route = "infer";
  r.spec.strategy = strategy;
  r.spec.stable = "v1";
  r.spec.candidate = "v2";
  r.spec.steps =
      strategy == Strategy::kAbTest ? std::vector<double>{50} : std::vector<double>{10, 50, 100};
  r.spec.analysis.min_requests = 10;
  r.spec.analysis.max_error_rate = 0.05;
  r.spec.analysis.failure_limit = 2;
  r.spec.mirror_percent = strategy == Strategy::kShadow ? 100 : 0;
  return r;
}

PoolStats Calls(uint64_t requests, uint64_t errors) {
  PoolStats s;
  s.requests = requests;
  s.server_errors = errors;
  s.mirror_match = requests - errors;
  s.mirror_errors = errors;
  return s;
}

Move Analyse(Release* r, absl::StatusOr<PoolStats> candidate, absl::Time now = kNow) {
  return StrategyOf(r->spec.strategy).Analyse(r, candidate, Calls(1000, 0), now);
}

TEST(StrategyTest, ACanaryStepsThroughItsStepsThenPromotes) {
  Release r = Started(Strategy::kCanary);
  Move m = Analyse(&r, Calls(100, 0));
  EXPECT_EQ(m.kind, DecisionKind::kStep);
  EXPECT_TRUE(m.route_changes);
  EXPECT_EQ(r.step, 1);
  EXPECT_THAT(m.detail, HasSubstr("now v2 at 50% (step 2/3)"));
  EXPECT_EQ(Analyse(&r, Calls(100, 0)).kind, DecisionKind::kStep);
  m = Analyse(&r, Calls(100, 0));
  EXPECT_EQ(m.kind, DecisionKind::kPromote);
  EXPECT_THAT(m.detail, HasSubstr("the last step passed"));
}

TEST(StrategyTest, FailuresInARowAbortAtTheLimitAndAPassResetsThem) {
  Release r = Started(Strategy::kCanary);
  EXPECT_EQ(Analyse(&r, Calls(100, 20)).kind, DecisionKind::kFail);
  // The step's calls add up (20 errors in 1100 calls is within 5%), and the count of
  // failures starts again; so does the next step's tally.
  EXPECT_EQ(Analyse(&r, Calls(1000, 0)).kind, DecisionKind::kStep);
  EXPECT_EQ(r.consecutive_failures, 0);
  EXPECT_EQ(Analyse(&r, Calls(100, 20)).kind, DecisionKind::kFail);
  const Move m = Analyse(&r, Calls(100, 20));
  EXPECT_EQ(m.kind, DecisionKind::kAbort);
  EXPECT_THAT(m.detail, HasSubstr("2 failed analyses in a row (failure_limit 2)"));
}

TEST(StrategyTest, TooFewCallsOrNoDataHold) {
  Release r = Started(Strategy::kCanary);
  EXPECT_EQ(Analyse(&r, Calls(3, 3)).kind, DecisionKind::kHold);
  const Move m = Analyse(&r, absl::UnavailableError("prometheus is down"));
  EXPECT_EQ(m.kind, DecisionKind::kHold);
  EXPECT_THAT(m.detail, HasSubstr("no data (prometheus is down)"));
  EXPECT_EQ(r.step, 0);
  EXPECT_EQ(r.consecutive_failures, 0);
}

TEST(StrategyTest, BlueGreenSwitchesOnceThenPromotesWhenTheRollbackWindowEnds) {
  Release r = Started(Strategy::kBlueGreen);
  r.spec.rollback_window = absl::Minutes(5);
  RouteOverride preview = RouteChangeFor(r);
  EXPECT_EQ(preview.override_header, kPreviewHeader);
  const Move m = Analyse(&r, Calls(100, 0));
  EXPECT_EQ(m.kind, DecisionKind::kSwitch);
  EXPECT_TRUE(m.route_changes);
  EXPECT_EQ(r.phase, Phase::kRollbackWindow);
  EXPECT_EQ(r.deadline, kNow + absl::Minutes(5));
  EXPECT_EQ(Analyse(&r, Calls(100, 0), kNow + absl::Minutes(1)).kind, DecisionKind::kPass);
  EXPECT_EQ(Analyse(&r, Calls(100, 0), kNow + absl::Minutes(5)).kind, DecisionKind::kPromote);
}

TEST(StrategyTest, AShadowIsJudgedOnItsShadowCallsAndIsFollowedByACanary) {
  Release r = Started(Strategy::kShadow);
  RouteOverride change = RouteChangeFor(r);
  EXPECT_EQ(change.mirror_pool, std::optional<std::string>("v2"));
  EXPECT_EQ(change.mirror_percent, 100);
  EXPECT_EQ(Analyse(&r, Calls(100, 0)).kind, DecisionKind::kPass);
  EXPECT_EQ(Analyse(&r, Calls(100, 30)).kind, DecisionKind::kFail);
  const std::optional<RolloutSpec> next = ShadowStrategy().FollowUp(r);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->strategy, Strategy::kCanary);
  EXPECT_EQ(next->mirror_percent, 0);
  EXPECT_FALSE(CanaryStrategy().FollowUp(r).has_value());
}

TEST(StrategyTest, AnAbTestCollectsUntilItsSampleSizeThenWaitsOnItsVerdict) {
  Release r = Started(Strategy::kAbTest);
  r.spec.sample_size = 150;
  Move m = Analyse(&r, Calls(100, 1));
  EXPECT_EQ(m.kind, DecisionKind::kHold);
  EXPECT_THAT(m.detail, HasSubstr("collecting: v1 1000 calls (0 errors), v2 100 calls (1 errors)"));
  m = Analyse(&r, Calls(100, 1));
  EXPECT_EQ(m.kind, DecisionKind::kVerdict);
  EXPECT_EQ(r.phase, Phase::kConcluded);
  EXPECT_EQ(r.tally_candidate.requests, 200u);
}

TEST(StrategyTest, AnAutoPromotingAbTestAbortsAWorseCandidate) {
  Release r = Started(Strategy::kAbTest);
  r.spec.sample_size = 500;
  r.spec.auto_promote = true;
  const Move m = Analyse(&r, Calls(1000, 200));
  EXPECT_EQ(m.kind, DecisionKind::kAbort);
  EXPECT_THAT(m.detail, HasSubstr("A/B verdict"));
}

TEST(StrategyTest, AFinishedReleaseGivesTheRouteBackItsOwnMirror) {
  Release r = Started(Strategy::kShadow);
  r.phase = Phase::kAborted;
  const RouteOverride change = RouteChangeFor(r);
  EXPECT_FALSE(change.mirror_pool.has_value());
  ASSERT_EQ(change.split.size(), 2u);
  EXPECT_EQ(change.split[0].pool, "v1");
  EXPECT_EQ(change.split[0].weight, 100);
}

}  // namespace
}  // namespace rollout::control
