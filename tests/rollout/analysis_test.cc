// The analysis on its own: thresholds, quantiles and the two-arm tests, checked against
// values computed by hand.
#include "rollout/analysis.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/rollout/pool_stats.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

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

TEST(AnalysisTest, TheTimeToTheFirstMessageIsJudgedOnItsOwn) {
  AnalysisSpec spec;
  spec.min_requests = 10;
  spec.max_error_rate = 0.01;
  spec.max_first_message_p99_seconds = 0.200;
  spec.max_message_gap_p99_ratio = 1.5;
  PoolStats stable = Traffic(100, 0, 2.0), candidate = Traffic(100, 0, 2.0);  // same total
  stable.first_message_p99_seconds = 0.100;
  stable.message_gap_p99_seconds = 0.020;
  candidate.first_message_p99_seconds = 0.350;  // a slow first token
  candidate.message_gap_p99_seconds = 0.021;
  Verdict v = Judge(spec, candidate, stable);
  EXPECT_EQ(v.outcome, Outcome::kFail);
  EXPECT_THAT(v.summary, HasSubstr("first message p99 350.00ms vs max 200.00ms FAIL"));
  EXPECT_THAT(v.summary,
              HasSubstr("message gap p99 21.00ms vs stable 20.00ms: ratio 1.05 vs max 1.50 ok"));
  candidate.first_message_p99_seconds = 0.150;
  EXPECT_EQ(Judge(spec, candidate, stable).outcome, Outcome::kPass);
  candidate.message_gap_p99_seconds = 0.040;  // tokens twice as slow
  EXPECT_EQ(Judge(spec, candidate, stable).outcome, Outcome::kFail);
  candidate.first_message_p99_seconds.reset();  // no message timed: no pass on it
  candidate.message_gap_p99_seconds = 0.021;
  v = Judge(spec, candidate, stable);
  EXPECT_EQ(v.outcome, Outcome::kHold);
  EXPECT_THAT(v.summary, HasSubstr("no first message p99 data for the candidate"));
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
