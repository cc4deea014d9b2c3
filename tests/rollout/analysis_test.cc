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

namespace rollout::control {
namespace {

TEST(AnalysisTest, ABrokenThresholdFailsOnlyBeyondDoubt) {
  AnalysisSpec spec;
  spec.min_requests = 20;
  spec.max_error_rate = 0.01;
  // 1 error in 30 calls is 3.3%, above 1%, but proves nothing: a hold, not a failure.
  Verdict v = Judge(spec, Traffic(30, 1, 0.01), Traffic(1000, 0, 0.01));
  EXPECT_EQ(v.outcome, Outcome::kHold);
  EXPECT_THAT(v.summary, HasSubstr("hold: error rate 3.33% (1/30) vs max 1.00% above, not yet "
                                   "beyond doubt (always-valid 95% interval 0.01%-25.29%, p=1)"));
  ASSERT_EQ(v.checks.size(), 1u);
  EXPECT_FALSE(v.checks[0].ok);
  EXPECT_FALSE(v.checks[0].Broken());
  // The same rate over 3000 calls is beyond doubt.
  v = Judge(spec, Traffic(3000, 100, 0.01), Traffic(1000, 0, 0.01));
  EXPECT_EQ(v.outcome, Outcome::kFail);
  EXPECT_THAT(v.summary, HasSubstr("error rate 3.33% (100/3000) vs max 1.00% FAIL (always-valid"));
  // Each check keeps its evidence for the record.
  const nlohmann::json j = v.ToJson();
  const nlohmann::json& e = j["checks"][0]["evidence"];
  EXPECT_DOUBLE_EQ(e["estimate"].get<double>(), 100.0 / 3000);
  EXPECT_GT(e["low"].get<double>(), 0.01);
  EXPECT_LT(e["p_value"].get<double>(), 0.05);
  EXPECT_EQ(e["alpha"].get<double>(), 0.05);
  EXPECT_TRUE(e["significant"].get<bool>());
}

TEST(AnalysisTest, AlphaIsSharedByTheChecks) {
  AnalysisSpec spec;
  spec.min_requests = 20;
  spec.max_error_rate = 0.01;
  spec.max_p99_seconds = 0.1;
  spec.max_mismatch_rate = 0.2;
  spec.max_error_rate_increase = 0.01;
  Verdict v = Judge(spec, Traffic(3000, 0, 0.01), Traffic(3000, 0, 0.01), 0.08);
  ASSERT_EQ(v.outcome, Outcome::kPass) << v.summary;
  EXPECT_DOUBLE_EQ(v.checks[0].evidence->alpha, 0.02);
}

TEST(AnalysisTest, ALatencyLimitIsJudgedOnTheShareOfSlowCalls) {
  AnalysisSpec spec;
  spec.min_requests = 20;
  spec.max_p99_seconds = 0.100;
  // 3 of 100 calls above 100 ms: the p99 is over the limit, the share (3%) not beyond
  // doubt above 1%.
  PoolStats few = Latencies(0, {{0.050, 97}, {0.200, 3}});
  Verdict v = Judge(spec, few, few);
  EXPECT_EQ(v.outcome, Outcome::kHold) << v.summary;
  EXPECT_THAT(v.summary, HasSubstr("(calls above 100.00ms: always-valid"));
  // The same shape over 10000 calls fails.
  PoolStats many = Latencies(0, {{0.050, 9700}, {0.200, 300}});
  v = Judge(spec, many, many);
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.summary;
  EXPECT_GT(v.checks[0].evidence->low, 0.01);
}

TEST(AnalysisTest, ARatioToStableNeedsStablesP99Bounded) {
  AnalysisSpec spec;
  spec.min_requests = 20;
  spec.max_error_rate = 0.05;
  spec.max_p99_ratio = 1.5;
  // Every candidate call slower than stable's slowest, but stable has too few calls to
  // bound its own p99: a hold.
  PoolStats stable = Latencies(0, {{0.010, 100}});
  PoolStats candidate = Latencies(0, {{0.050, 100}});
  Verdict v = Judge(spec, candidate, stable);
  EXPECT_EQ(v.outcome, Outcome::kHold) << v.summary;
  EXPECT_THAT(v.summary, HasSubstr("stable's p99 not yet bounded"));
  // With 5000 stable calls its p99 is at most 10 ms beyond doubt; the candidate is past
  // 15 ms in every call.
  stable = Latencies(0, {{0.010, 5000}});
  v = Judge(spec, candidate, stable);
  EXPECT_EQ(v.outcome, Outcome::kFail) << v.summary;
  EXPECT_THAT(v.summary, HasSubstr("ratio 5.00 vs max 1.50 FAIL (calls above 15.00ms"));
}

}  // namespace
}  // namespace rollout::control
