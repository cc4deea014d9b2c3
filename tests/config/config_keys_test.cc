// The key table is the one list of top-level keys: the loader, the reload notes and the
// README must all agree with it.
#include "config/config_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "config/config_loader.h"

namespace rollout::control {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Config Parse(const std::string& extra, const std::string& weight = "1") {
  absl::StatusOr<Config> c = ParseConfig(absl::StrCat(R"(
listen: 127.0.0.1:0
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001"] }
routes:
  - { name: all, split: [ { pool: v1, weight: )",
                                                      weight, R"( } ] }
)",
                                                      extra),
                                         "test.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : Config();
}

TEST(ConfigKeysTest, EveryKeyHasAReaderAndEveryRestartKeyAComparison) {
  for (const ConfigKey& key : ConfigKeys()) {
    EXPECT_NE(key.read, nullptr) << key.name;
    if (key.applies == Applies::kOnRestart) EXPECT_NE(key.same, nullptr) << key.name;
  }
}

TEST(ConfigKeysTest, AReloadNamesTheRestartKeysThatChangedAndNoOthers) {
  const Config running = Parse("workers: 2\nlog_level: info\n");
  EXPECT_THAT(KeysNeedingRestart(running, Parse("workers: 2\nlog_level: info\n", "5")), IsEmpty())
      << "a new weight is applied by the reload itself";
  EXPECT_THAT(KeysNeedingRestart(running, Parse("workers: 4\nlog_level: warn\n")),
              ElementsAre("workers", "log_level"));
  EXPECT_THAT(KeysNeedingRestart(running, Parse("workers: 2\nlog_level: info\n"
                                                "metrics: { listen: 127.0.0.1:0 }\n")),
              ElementsAre("metrics"));
}

TEST(ConfigKeysTest, TheLoaderRecordsWhichKeysTheFileSets) {
  EXPECT_THAT(Parse("log_format: json\n").keys,
              ElementsAre("listen", "log_format", "pools", "routes"));
}

TEST(ConfigKeysTest, TheReadmeDocumentsEveryKeyThatIsStillASetting) {
  std::ifstream in(std::string(ROLLOUT_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.applies == Applies::kNever) continue;
    EXPECT_THAT(text.str(), HasSubstr(absl::StrCat("\n", key.name, ":")))
        << key.name << " is missing from the README's config reference";
  }
}

}  // namespace
}  // namespace rollout::control
