#include "serve/config_watcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>

#include "absl/time/clock.h"
#include "tests/support/child_process.h"

namespace rollout::serve {
namespace {

using ::rollout::testing::TempDir;

// Waits up to `limit` for `count` to reach `want`.
bool Reaches(const std::atomic<int>& count, int want, absl::Duration limit) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (count.load() >= want) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return count.load() >= want;
}

TEST(ConfigWatcherTest, ANewContentIsSeenOnceAndTheSameContentIsNot) {
  TempDir dir;
  const std::string path = dir.WriteFile("proxy.yaml", "listen: a\n");
  std::atomic<int> changes{0};
  ConfigWatcher watcher(path, absl::Milliseconds(50), [&] { ++changes; });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(changes.load(), 0) << "nothing changed yet";
  dir.WriteFile("proxy.yaml", "listen: a\n");  // rewritten, same content
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(changes.load(), 0);
  dir.WriteFile("proxy.yaml", "listen: b\n");
  EXPECT_TRUE(Reaches(changes, 1, absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(changes.load(), 1) << "one change, one call";
}

// A ConfigMap update swaps a symlink; a file that is briefly empty or gone is no change.
TEST(ConfigWatcherTest, ASymlinkSwapIsAChangeAndAMissingFileIsNot) {
  TempDir dir;
  const std::string v1 = dir.WriteFile("v1.yaml", "listen: a\n");
  const std::string v2 = dir.WriteFile("v2.yaml", "listen: b\n");
  const std::string link = dir.path() + "/proxy.yaml";
  ASSERT_EQ(symlink(v1.c_str(), link.c_str()), 0);
  std::atomic<int> changes{0};
  ConfigWatcher watcher(link, absl::Milliseconds(50), [&] { ++changes; });
  absl::SleepFor(absl::Milliseconds(100));
  ASSERT_EQ(unlink(link.c_str()), 0);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(changes.load(), 0) << "a missing file is not a new config";
  ASSERT_EQ(symlink(v2.c_str(), link.c_str()), 0);
  EXPECT_TRUE(Reaches(changes, 1, absl::Seconds(5)));
}

TEST(ConfigWatcherTest, DestroyingItStopsItPromptly) {
  TempDir dir;
  const std::string path = dir.WriteFile("proxy.yaml", "x");
  const absl::Time start = absl::Now();
  {
    ConfigWatcher watcher(path, absl::Seconds(30), [] {});
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "it waited out its period";
}

}  // namespace
}  // namespace rollout::serve
