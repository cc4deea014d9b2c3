// judge_sim in a short run: it drives the real engine to real verdicts, and its report says
// what it measured. With a fixed seed the draws, and so the figures, are the same each run.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kJudgeSimBin[] = ROLLOUT_JUDGE_SIM_BIN;

TEST(JudgeSimTest, AShortRunJudgesEveryScenarioAndChecksTheTargets) {
  std::string out;
  ASSERT_EQ(RunCommand({kJudgeSimBin, "--runs", "20", "--rates", "1000", "--seed", "7"}, &out,
                       absl::Seconds(120)),
            0)
      << out;
  // A good candidate is promoted, a bad one aborted, at 100 candidate calls/s.
  EXPECT_THAT(out, HasSubstr("| A/A, unary calls | 1000 | 100 | 20 | 0.0% |"));
  EXPECT_THAT(
      out,
      HasSubstr("| errors x5 (0.5% -> 2.5%) | 1000 | 100 | 20 | 100.0% | 100.0% | 100.0% | 2 |"));
  EXPECT_THAT(out, HasSubstr("| first message x2, same total | 1000 | 100 | 20 | 100.0% |"));
  EXPECT_THAT(out, HasSubstr("**met**: A/A false aborts at most 1% at every traffic level"));
  EXPECT_THAT(out, HasSubstr("## Targets (issue 19)"));
  // A bad command line names the flag.
  EXPECT_EQ(RunCommand({kJudgeSimBin, "--rates", "fast"}, &out, absl::Seconds(10)), 2);
  EXPECT_THAT(out, HasSubstr("--rates: \"fast\" is not a rate above 0"));
}

}  // namespace
}  // namespace rollout::testing
