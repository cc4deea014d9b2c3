// The keys of what operators look at: access_log (its defaults, its checks, its path
// relative to the config file) and dashboard (which needs the admin section's tokens).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "config/config_loader.h"
#include "tests/support/child_process.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Config> Parse(const std::string& extra) {
  return ParseConfig(absl::StrCat(R"(
listen: 127.0.0.1:0
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001"] }
routes:
  - { name: all, split: [ { pool: v1, weight: 1 } ] }
)",
                                  extra),
                     "test.yaml");
}

TEST(OperatorKeysTest, AccessLogHasDefaultsAndTakesTextOrJson) {
  absl::StatusOr<Config> c = Parse("access_log: { path: /var/log/access.log }\n");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->access_log.has_value());
  EXPECT_EQ(c->access_log->path, "/var/log/access.log");
  EXPECT_EQ(c->access_log->sample, 1);
  EXPECT_EQ(c->access_log->sample_errors, 1);
  EXPECT_EQ(c->access_log->format, routing::AccessLogSpec::Format::kJson);
  c = Parse("access_log: { path: a.log, sample: 0.01, sample_errors: 0.5, format: text }\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_log->sample, 0.01);
  EXPECT_EQ(c->access_log->sample_errors, 0.5);
  EXPECT_EQ(c->access_log->format, routing::AccessLogSpec::Format::kText);
  EXPECT_FALSE(Parse("").value().access_log.has_value());  // off by default
}

TEST(OperatorKeysTest, AccessLogErrorsNameTheKey) {
  EXPECT_THAT(Parse("access_log: { sample: 0.5 }\n").status().message(),
              HasSubstr("access_log.path"));
  EXPECT_THAT(Parse("access_log: { path: a.log, sample: 2 }\n").status().message(),
              HasSubstr("access_log.sample: must be a share between 0 and 1"));
  EXPECT_THAT(Parse("access_log: { path: a.log, sample_errors: -1 }\n").status().message(),
              HasSubstr("access_log.sample_errors"));
  EXPECT_THAT(Parse("access_log: { path: a.log, format: xml }\n").status().message(),
              HasSubstr("access_log.format: must be json or text"));
  EXPECT_THAT(Parse("access_log: { path: a.log, buffer: 1 }\n").status().message(),
              HasSubstr("buffer"));
}

TEST(OperatorKeysTest, TheAccessLogPathIsRelativeToTheConfigFile) {
  testing::TempDir dir;
  const std::string path = dir.WriteFile("proxy.yaml", R"(listen: 127.0.0.1:0
access_log: { path: logs/access.log }
pools: [ { name: v1, endpoints: ["127.0.0.1:9001"] } ]
routes: [ { name: all, split: [ { pool: v1, weight: 1 } ] } ]
)");
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->access_log->path, dir.path() + "/logs/access.log");
}

TEST(OperatorKeysTest, TheDashboardNeedsTheAdminTokens) {
  EXPECT_THAT(Parse("dashboard: { listen: 127.0.0.1:8502 }\n").status().message(),
              HasSubstr("dashboard: needs the admin section"));
  absl::StatusOr<Config> c = Parse(
      "admin: { listen: 127.0.0.1:0, token_file: t }\ndashboard: { listen: 127.0.0.1:8502 }\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->dashboard_listen, "127.0.0.1:8502");
  EXPECT_THAT(
      Parse("admin: { token_file: t }\ndashboard: { listen: nowhere }\n").status().message(),
      HasSubstr("dashboard.listen"));
  EXPECT_FALSE(Parse("").value().dashboard_listen.has_value());  // off by default
}

}  // namespace
}  // namespace rollout::control
