// The A/B verdict on its own: per metric, from always-valid intervals with their margins,
// and Holm's correction across the metrics.
#include "rollout/ab_verdict.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rollout/pool_stats.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

TEST(AbVerdictTest, EqualArmsWithEnoughCallsAreNoWorseOnEveryMetric) {
  const PoolStats stable = Latencies(50, {{0.010, 5000}, {0.020, 5000}});
  const PoolStats candidate = Latencies(52, {{0.010, 5050}, {0.020, 4950}});
  const AbVerdict v = JudgeArms(stable, candidate, 0.005, 0.05, 0.05);
  ASSERT_EQ(v.metrics.size(), 2u);
  EXPECT_EQ(v.metrics[0].verdict, ArmVerdict::kNonInferior);
  EXPECT_EQ(v.metrics[1].verdict, ArmVerdict::kNonInferior);
  EXPECT_TRUE(v.all_non_inferior);
  EXPECT_FALSE(v.any_inferior);
  EXPECT_LT(v.metrics[0].difference.high, 0.005);  // the interval is inside the margin
  EXPECT_THAT(v.summary, HasSubstr("errors: non-inferior (+0.02 points, always-valid 97.5% "
                                   "interval"));
  const nlohmann::json j = v.ToJson();
  EXPECT_EQ(j["correction"], "Holm across metrics");
  EXPECT_EQ(j["metrics"][1]["metric"], "latency");
}

TEST(AbVerdictTest, TooFewCallsAreInconclusiveNotNoWorse) {
  // The same rates over 1000 calls: no significant difference, and no evidence either.
  const PoolStats stable = Latencies(5, {{0.010, 500}, {0.020, 500}});
  const PoolStats candidate = Latencies(6, {{0.010, 505}, {0.020, 495}});
  const AbVerdict v = JudgeArms(stable, candidate, 0.005, 0.05, 0.05);
  EXPECT_EQ(v.metrics[0].verdict, ArmVerdict::kInconclusive);
  EXPECT_FALSE(v.all_non_inferior);
  EXPECT_FALSE(v.any_inferior);
}

TEST(AbVerdictTest, WorseByMoreThanTheMarginIsInferior) {
  const PoolStats stable = Latencies(50, {{0.010, 10000}});
  const PoolStats candidate = Latencies(250, {{0.010, 10000}});  // 2.5% against 0.5%
  const AbVerdict v = JudgeArms(stable, candidate, 0.005, 0.05, 0.05);
  EXPECT_EQ(v.metrics[0].verdict, ArmVerdict::kInferior);
  EXPECT_TRUE(v.any_inferior);
  EXPECT_FALSE(v.all_non_inferior);
  EXPECT_GT(v.metrics[0].difference.low, 0.005);
  // Better beyond doubt is superior.
  const AbVerdict better = JudgeArms(candidate, stable, 0.005, 0.05, 0.05);
  EXPECT_EQ(better.metrics[0].verdict, ArmVerdict::kSuperior);
}

TEST(AbVerdictTest, HolmNeedsEveryMetricShown) {
  // Errors alike over many calls (shown no worse), latency with no histogram (unknown):
  // not no worse on every metric.
  PoolStats stable = Traffic(20000, 100, 0.01), candidate = Traffic(20000, 100, 0.01);
  const AbVerdict v = JudgeArms(stable, candidate, 0.005, 0.05, 0.05);
  EXPECT_EQ(v.metrics[0].verdict, ArmVerdict::kNonInferior);
  EXPECT_EQ(v.metrics[1].verdict, ArmVerdict::kInconclusive);
  EXPECT_FALSE(v.all_non_inferior);
}

TEST(AbVerdictTest, TheSampleSizeIsWhereTheIntervalNarrowsToTheMargin) {
  const uint64_t n = CallsPerArmFor(0.005, 0.005, 0.05);
  EXPECT_GT(n, 1000u);
  EXPECT_LT(n, 100000u);
  EXPECT_GT(CallsPerArmFor(0.005, 0.0025, 0.05), 3 * n);  // half the margin, 3-4x the calls
  const uint64_t k = n / 200;                             // 0.5% of n
  const Evidence e = DifferenceEvidence(k, n, k, n, 0, 0.025);
  EXPECT_NEAR(e.high, 0.005, 0.0005);
}

}  // namespace
}  // namespace rollout::control
