// The always-valid tests on their own: values checked against a separate computation, and
// their promise (a false alarm at most alpha of the time, however often one looks)
// checked by simulation with a fixed seed.
#include "rollout/sequential.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rollout::control {
namespace {

TEST(SequentialTest, AProportionsIntervalMatchesAnIndependentComputation) {
  // 75 errors in 3000 calls at alpha 0.003: the mixture crosses 1/alpha at 1.397% and
  // 4.055% (computed in Python with math.lgamma and bisection).
  Evidence e = ProportionEvidence(75, 3000, 0.01, 0.003);
  EXPECT_DOUBLE_EQ(e.estimate, 0.025);
  EXPECT_NEAR(e.low, 0.01397, 0.00002);
  EXPECT_NEAR(e.high, 0.04055, 0.00002);
  EXPECT_TRUE(e.Significant());
  EXPECT_LT(e.p_value, 0.003);
  // The same rate over 300 calls is not beyond doubt: the interval still holds 1%.
  e = ProportionEvidence(8, 300, 0.01, 0.003);
  EXPECT_LT(e.low, 0.01);
  EXPECT_FALSE(e.Significant());
  // Within the bound: p = 1. No calls: no evidence at all.
  EXPECT_EQ(ProportionEvidence(5, 1000, 0.01, 0.05).p_value, 1);
  e = ProportionEvidence(0, 0, 0.01, 0.05);
  EXPECT_EQ(e.low, 0);
  EXPECT_EQ(e.high, 1);
  EXPECT_FALSE(e.Significant());
  // None or all: the interval reaches the edge.
  EXPECT_EQ(ProportionEvidence(0, 500, 0.01, 0.05).low, 0);
  EXPECT_EQ(ProportionEvidence(500, 500, 0.01, 0.05).high, 1);
  EXPECT_TRUE(ProportionEvidence(1, 100, 0.0, 0.05).Significant());  // a bound of 0
}

// The share of `runs` sequences of Bernoulli(rate) calls, looked at every `every` calls up
// to `calls`, in which `test` ever called the bound broken.
template <typename Test>
double EverSignificant(int runs, int calls, int every, double rate, Test test) {
  std::mt19937_64 rng(20261202);
  std::bernoulli_distribution event(rate);
  int alarms = 0;
  for (int run = 0; run < runs; ++run) {
    uint64_t k = 0;
    for (int n = 1; n <= calls; ++n) {
      k += event(rng) ? 1 : 0;
      if (n % every == 0 && test(k, n)) {
        ++alarms;
        break;
      }
    }
  }
  return double(alarms) / runs;
}

TEST(SequentialTest, LookingAfterEveryIntervalDoesNotInflateFalseAlarms) {
  // A candidate exactly at its bound, looked at 100 times: at most alpha of the runs may
  // ever see it broken. A plain one-sided z-test at each look would see it in about a
  // quarter of them.
  const double always_valid = EverSignificant(400, 10000, 100, 0.01, [](uint64_t k, int n) {
    return ProportionEvidence(k, n, 0.01, 0.05).Significant();
  });
  EXPECT_LE(always_valid, 0.05);
  const double naive = EverSignificant(400, 10000, 100, 0.01, [](uint64_t k, int n) {
    const double p = double(k) / n, se = std::sqrt(0.01 * 0.99 / n);
    return (p - 0.01) / se > 1.645;
  });
  EXPECT_GT(naive, 0.15);
}

TEST(SequentialTest, ADifferenceOfRates) {
  // 2.5% against 0.5%, over a canary's 3000 calls and stable's 57000: beyond doubt.
  Evidence e = DifferenceEvidence(75, 3000, 285, 57000, 0.0, 0.003);
  EXPECT_NEAR(e.estimate, 0.02, 1e-12);
  EXPECT_GT(e.low, 0);
  EXPECT_TRUE(e.Significant());
  // Equal rates: no evidence of an increase; an interval around 0.
  e = DifferenceEvidence(15, 3000, 285, 57000, 0.0, 0.003);
  EXPECT_EQ(e.p_value, 1);
  EXPECT_LT(e.low, 0);
  EXPECT_GT(e.high, 0);
  // Within a margin of 3 points, 2 points more is fine.
  EXPECT_FALSE(DifferenceEvidence(75, 3000, 285, 57000, 0.03, 0.003).Significant());
  // No calls on one side: no evidence.
  EXPECT_FALSE(DifferenceEvidence(75, 3000, 0, 0, 0.0, 0.003).Significant());
  // Two equal arms looked at every 200 calls: false alarms stay within alpha.
  std::mt19937_64 rng(7);
  std::bernoulli_distribution a(0.02), b(0.02);
  int alarms = 0;
  for (int run = 0; run < 200; ++run) {
    uint64_t ka = 0, kb = 0;
    for (int n = 1; n <= 10000; ++n) {
      ka += a(rng);
      kb += b(rng);
      if (n % 200 == 0 && DifferenceEvidence(ka, n, kb, n, 0.0, 0.05).Significant()) {
        ++alarms;
        break;
      }
    }
  }
  EXPECT_LE(alarms, 10);  // 5% of 200
}

TEST(SequentialTest, CountAboveInterpolatesWithinABucket) {
  const Histogram h = {{0.010, 50}, {0.020, 50}};
  EXPECT_EQ(CountAbove(h, 0.015), 25u);
  EXPECT_EQ(CountAbove(h, 0.005), 75u);
  EXPECT_EQ(CountAbove(h, 0.020), 0u);
  EXPECT_EQ(CountAbove(h, 0.0), 100u);
  // The +Inf bucket of a Prometheus histogram: its values are above its lower bound only.
  EXPECT_EQ(CountAbove({{0.010, 10}, {INFINITY, 5}}, 0.010), 5u);
  EXPECT_EQ(CountAbove({{0.010, 10}, {INFINITY, 5}}, 0.5), 0u);
}

TEST(SequentialTest, AQuantilesUpperBoundNeedsEnoughValues) {
  EXPECT_FALSE(QuantileUpperBound({{0.010, 100}}, 0.99, 0.05).has_value());
  // 5000 values at 10 ms or less and 10 slower ones: the p99 is at most 10 ms.
  std::optional<double> bound = QuantileUpperBound({{0.010, 5000}, {0.500, 10}}, 0.99, 0.05);
  ASSERT_TRUE(bound.has_value());
  EXPECT_DOUBLE_EQ(*bound, 0.010);
  // 3% slower: the bound is the slower bucket's.
  bound = QuantileUpperBound({{0.010, 5000}, {0.500, 150}}, 0.99, 0.05);
  ASSERT_TRUE(bound.has_value());
  EXPECT_DOUBLE_EQ(*bound, 0.500);
}

}  // namespace
}  // namespace rollout::control
