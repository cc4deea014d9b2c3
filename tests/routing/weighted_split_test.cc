#include "routing/weighted_split.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rollout::routing {
namespace {

using ::testing::HasSubstr;
constexpr uint32_t kR = WeightedSplit::kResolution;

TEST(WeightedSplitTest, PicksByCumulativeRangeOfInjectedRandom) {
  auto split = WeightedSplit::Create({{7, 90}, {3, 10}});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->Pick(0), 7u);
  EXPECT_EQ(split->Pick(kR * 9 / 10 - 1), 7u);  // last point of the 90% range
  EXPECT_EQ(split->Pick(kR * 9 / 10), 3u);      // first point of the 10% range
  EXPECT_EQ(split->Pick(kR - 1), 3u);
  EXPECT_EQ(split->Pick(kR), 7u);  // the random value wraps modulo the resolution
}

TEST(WeightedSplitTest, LargestIsTheArmWithTheMostTrafficAndTheFirstOfEquals) {
  EXPECT_EQ(WeightedSplit::Create({{7, 10}, {3, 90}})->Largest(), 1u);
  EXPECT_EQ(WeightedSplit::Create({{7, 50}, {3, 50}})->Largest(), 0u);
  EXPECT_EQ(WeightedSplit::Create({{7, 0}, {3, 0.01}, {5, 0}})->Largest(), 1u);
}

TEST(WeightedSplitTest, FractionalWeightsKeepHundredthOfAPercent) {
  // 0.01% canary: exactly 100 parts per million.
  auto split = WeightedSplit::Create({{1, 0.01}, {0, 99.99}});
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->PartsPerMillion(0), 100u);
  EXPECT_EQ(split->PartsPerMillion(1), kR - 100);
  EXPECT_EQ(split->Pick(99), 1u);
  EXPECT_EQ(split->Pick(100), 0u);
}

TEST(WeightedSplitTest, OnlyRatiosMatter) {
  auto a = WeightedSplit::Create({{0, 1}, {1, 3}});
  auto b = WeightedSplit::Create({{0, 25}, {1, 75}});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->PartsPerMillion(0), 250000u);
  for (uint64_t r : {0ull, 249999ull, 250000ull, 999999ull}) EXPECT_EQ(a->Pick(r), b->Pick(r));
}

TEST(WeightedSplitTest, ZeroWeightArmIsNeverPicked) {
  auto split = WeightedSplit::Create({{0, 0}, {1, 5}, {2, 0}});
  ASSERT_TRUE(split.ok());
  for (uint64_t r = 0; r < kR; r += 997) EXPECT_EQ(split->Pick(r), 1u);
  EXPECT_EQ(split->Pick(kR - 1), 1u);
}

TEST(WeightedSplitTest, RangesAlwaysCoverTheWholeResolution) {
  auto split = WeightedSplit::Create({{0, 1.0 / 3}, {1, 1.0 / 3}, {2, 1.0 / 3}});
  ASSERT_TRUE(split.ok());
  uint32_t total = 0;
  for (size_t i = 0; i < split->size(); ++i) total += split->PartsPerMillion(i);
  EXPECT_EQ(total, kR);
}

TEST(WeightedSplitTest, RejectsNegativeWeightNamingTheArm) {
  auto split = WeightedSplit::Create({{0, 10}, {1, -1}});
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(split.status().message(), HasSubstr("split[1].weight"));
  EXPECT_THAT(split.status().message(), HasSubstr("negative"));
}

TEST(WeightedSplitTest, RejectsAllZeroEmptyAndNonFinite) {
  EXPECT_THAT(WeightedSplit::Create({{0, 0}, {1, 0}}).status().message(),
              HasSubstr("all weights are zero"));
  EXPECT_FALSE(WeightedSplit::Create({}).ok());
  EXPECT_THAT(
      WeightedSplit::Create({{0, std::numeric_limits<double>::quiet_NaN()}}).status().message(),
      HasSubstr("split[0].weight"));
  EXPECT_FALSE(WeightedSplit::Create({{0, std::numeric_limits<double>::infinity()}}).ok());
}

}  // namespace
}  // namespace rollout::routing
