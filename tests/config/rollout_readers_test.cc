// The rollouts, analysis and notifications sections of the config.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/valid_config.h"

namespace rollout::control {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ConfigLoaderTest, RolloutsAnalysisAndNotifications) {
  const std::string extra = R"(
analysis:
  source: prometheus
  prometheus:
    url: http://prometheus:9090/
    timeout: 3s
    queries: { requests: 'sum(my_requests{route="{route}",pool="{pool}"}[{window}])' }
notifications:
  webhooks: [ "http://hooks.example/rollouts" ]
rollouts:
  - route: infer
    strategy: canary
    stable: v1
    candidate: v2
    steps: [5, 25, 50, 100]
    interval: 10s
    min_requests: 100
    max_error_rate: 0.01
    max_error_rate_increase: 0.005
    max_p99: 250ms
    max_p99_ratio: 1.5
    failure_limit: 3
    notes: "v2: retrained on May data"
    compatibility: schema
    start_at: "2027-01-15T02:00:00Z"
    window: { days: mon-fri, hours: "02:00-06:00", timezone: UTC }
    approval: { webhook: "http://security.example/approve", timeout: 30m }
)";
  absl::StatusOr<Config> config = ParseConfig(std::string(kValid) + extra, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->analysis.source, "prometheus");
  EXPECT_EQ(config->analysis.prometheus.url, "http://prometheus:9090");
  EXPECT_EQ(config->analysis.prometheus.timeout, absl::Seconds(3));
  EXPECT_THAT(config->analysis.prometheus.queries.requests, HasSubstr("my_requests"));
  EXPECT_THAT(config->analysis.prometheus.queries.server_errors,
              HasSubstr("rollout_proxy_requests_total"));  // the default stays
  ASSERT_EQ(config->webhooks.size(), 1u);
  ASSERT_EQ(config->rollouts.size(), 1u);
  const RolloutSpec& r = config->rollouts[0];
  EXPECT_EQ(r.strategy, Strategy::kCanary);
  EXPECT_EQ(r.steps, (std::vector<double>{5, 25, 50, 100}));
  EXPECT_EQ(r.analysis.interval, absl::Seconds(10));
  EXPECT_EQ(r.analysis.min_requests, 100u);
  EXPECT_DOUBLE_EQ(*r.analysis.max_error_rate, 0.01);
  EXPECT_DOUBLE_EQ(*r.analysis.max_error_rate_increase, 0.005);
  EXPECT_DOUBLE_EQ(*r.analysis.max_p99_seconds, 0.25);
  EXPECT_DOUBLE_EQ(*r.analysis.max_p99_ratio, 1.5);
  EXPECT_FALSE(r.analysis.max_mismatch_rate.has_value());
  EXPECT_EQ(r.analysis.failure_limit, 3);
  EXPECT_EQ(r.notes, "v2: retrained on May data");
  EXPECT_EQ(r.compatibility, Compatibility::kSchema);
  EXPECT_EQ(r.start_at, absl::FromUnixSeconds(1'800'000'000) - absl::Hours(6));
  ASSERT_TRUE(r.window.has_value());
  EXPECT_EQ(r.window->ToString(), "mon-fri 02:00-06:00 UTC");
  ASSERT_TRUE(r.approval.has_value());
  EXPECT_EQ(r.approval->webhook, "http://security.example/approve");
  EXPECT_EQ(r.approval->timeout, absl::Minutes(30));

  auto error = [&](const std::string& from, const std::string& to) {
    return ErrorOf(Replaced(kValid + extra, from, to));
  };
  EXPECT_THAT(
      error("candidate: v2", "candidate: v9"),
      AllOf(HasSubstr("proxy.yaml:"), HasSubstr("rollouts[0]: candidate: unknown pool \"v9\"")));
  EXPECT_THAT(error("steps: [5, 25, 50, 100]", "steps: [5, 50, 25]"),
              HasSubstr("rollouts[0]: steps[2]: 25: steps must rise"));
  EXPECT_THAT(error("strategy: canary", "strategy: yolo"),
              HasSubstr("unknown strategy \"yolo\" (canary, blue_green, ab_test, shadow)"));
  EXPECT_THAT(error("strategy: canary", "strategy: ab_test"), HasSubstr("ab_test takes one value"));
  EXPECT_THAT(error("max_error_rate: 0.01", "max_error_rate: 5"),
              HasSubstr("max_error_rate: 5 must be a fraction between 0 and 1"));
  EXPECT_THAT(error("interval: 10s", "interval: 10"),
              HasSubstr("rollouts[0].interval: bad duration"));
  EXPECT_THAT(error("failure_limit: 3", "failure_limit: 0"),
              HasSubstr("rollouts[0].failure_limit: 0 is out of range"));
  EXPECT_THAT(error("notes:", "speed:"), HasSubstr("rollouts[0].speed: unknown key"));
  EXPECT_THAT(error("hours: \"02:00-06:00\"", "hours: \"2am\""),
              HasSubstr("rollouts[0]: window.hours: \"2am\""));
  EXPECT_THAT(error("start_at: \"2027-01-15T02:00:00Z\"", "start_at: tonight"),
              HasSubstr("rollouts[0].start_at: \"tonight\" is not an RFC 3339 time"));
  EXPECT_THAT(error("webhook: \"http://security.example/approve\"", "webhook: \"security\""),
              HasSubstr("approval.webhook: \"security\" must start with http://"));
  EXPECT_THAT(error("compatibility: schema", "compatibility: loose"),
              HasSubstr("compatibility: unknown value \"loose\" (auto, schema, none)"));
  EXPECT_THAT(error("source: prometheus", "source: graphite"),
              HasSubstr("analysis.source: unknown source \"graphite\""));
  EXPECT_THAT(error("url: http://prometheus:9090/", "url: prometheus:9090"),
              HasSubstr("analysis.prometheus.url: must start with http://"));
  EXPECT_THAT(error("\"http://hooks.example/rollouts\"", "\"hooks\""),
              HasSubstr("notifications.webhooks[0]: must start with http://"));
  EXPECT_THAT(
      ErrorOf(
          std::string(kValid) + extra +
          "  - { route: infer, stable: v1, candidate: v2, steps: [10], max_error_rate: 0.1 }\n"),
      HasSubstr("rollouts[1].route: route \"infer\" already has a rollout above"));
}

TEST(ConfigLoaderTest, ARolloutMayAskForALoadTest) {
  const std::string rollout = R"(
rollouts:
  - route: infer
    stable: v1
    candidate: v2
    steps: [10, 50]
    max_error_rate: 0.01
    max_p99: 250ms
    load_test: { duration: 20s, rate: 10, sample: 50, max_bytes: 1048576, timeout: 2m }
)";
  absl::StatusOr<Config> config = ParseConfig(std::string(kValid) + rollout, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const RolloutSpec& r = config->rollouts.at(0);
  ASSERT_TRUE(r.load_test.has_value());
  EXPECT_EQ(r.load_test->duration, absl::Seconds(20));
  EXPECT_DOUBLE_EQ(r.load_test->rate, 10);
  EXPECT_EQ(r.load_test->sample, 50u);
  EXPECT_EQ(r.load_test->max_bytes, 1048576u);
  EXPECT_EQ(r.load_test->timeout, absl::Minutes(2));
  absl::StatusOr<RolloutSpec> back = RolloutSpec::FromJson(r.ToJson());  // as records keep it
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->load_test.has_value());
  EXPECT_EQ(back->load_test->duration, absl::Seconds(20));
  EXPECT_EQ(back->load_test->sample, 50u);

  auto error = [&](const std::string& from, const std::string& to) {
    return ErrorOf(Replaced(kValid + rollout, from, to));
  };
  EXPECT_THAT(error("rate: 10,", "rate: 1,"),
              HasSubstr("load_test: rate x duration makes 20 calls, fewer than min_requests 100"));
  EXPECT_THAT(error("rate: 10,", "rate: 5000,"), HasSubstr("load_test.rate: must be in (0, 1000]"));
  EXPECT_THAT(error("sample: 50,", "samples: 50,"),
              HasSubstr("rollouts[0].load_test.samples: unknown key"));
  EXPECT_THAT(error("max_bytes: 1048576", "max_bytes: 100"),
              HasSubstr("load_test.max_bytes: 100 is out of range"));
  EXPECT_THAT(
      error("    max_error_rate: 0.01\n    max_p99: 250ms\n", ""),
      HasSubstr("rollouts[0]: load_test: needs max_error_rate or max_p99 to judge the replayed"));
  EXPECT_THAT(error("    stable: v1\n", "    stable: v1\n    strategy: shadow\n"),
              HasSubstr("load_test: a shadow rollout tests the candidate on mirrored traffic"));
}

TEST(ConfigLoaderTest, StreamingThresholdsAreReadAndKept) {
  const std::string rollout = R"(
rollouts:
  - route: infer
    stable: v1
    candidate: v2
    steps: [10, 50]
    max_first_message_p99: 300ms
    max_first_message_p99_ratio: 1.2
    max_message_gap_p99: 40ms
    max_message_gap_p99_ratio: 1.5
)";
  absl::StatusOr<Config> config = ParseConfig(std::string(kValid) + rollout, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();  // an absolute streaming threshold is enough
  const AnalysisSpec& a = config->rollouts.at(0).analysis;
  EXPECT_DOUBLE_EQ(*a.max_first_message_p99_seconds, 0.3);
  EXPECT_DOUBLE_EQ(*a.max_first_message_p99_ratio, 1.2);
  EXPECT_DOUBLE_EQ(*a.max_message_gap_p99_seconds, 0.04);
  EXPECT_DOUBLE_EQ(*a.max_message_gap_p99_ratio, 1.5);
  absl::StatusOr<RolloutSpec> back = RolloutSpec::FromJson(config->rollouts.at(0).ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_DOUBLE_EQ(*back->analysis.max_message_gap_p99_seconds, 0.04);
  std::string text = std::string(kValid) + rollout;
  text.replace(text.find("1.2"), 3, "-1");
  EXPECT_THAT(ErrorOf(text), HasSubstr("max_first_message_p99_ratio: must be > 0"));
}

TEST(ConfigLoaderTest, APoolMayPinTheModelItsServersServe) {
  absl::StatusOr<Config> config = ParseConfig(
      Variant(R"({ name: v2, endpoints: ["127.0.0.1:9002"] })",
              R"({ name: v2, endpoints: ["127.0.0.1:9002"], model_name: clf, model_version: 2 })"),
      "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->pools[1].model_name, "clf");
  EXPECT_EQ(config->pools[1].model_version, "2");
  EXPECT_EQ(config->table->pools()[1].model_version, "2");
  EXPECT_THAT(ErrorOf(Variant(R"(endpoints: ["127.0.0.1:9002"] })",
                              R"(endpoints: ["127.0.0.1:9002"], model_name: "" })")),
              HasSubstr("pools[1].model_name: must not be empty"));
}

TEST(ConfigLoaderTest, AbTestNeedsAStickyRouteAndAnEnd) {
  const std::string ab = R"(
rollouts:
  - { route: infer, strategy: ab_test, stable: v1, candidate: v2, duration: 10m }
)";
  EXPECT_THAT(ErrorOf(std::string(kValid) + ab),
              HasSubstr("ab_test needs a sticky split: route \"infer\" has no sticky_key"));
  std::string sticky = Variant("    split: [ { pool: v1, weight: 99.5 }",
                               "    sticky_key: x-user\n    split: [ { pool: v1, weight: 99.5 }");
  absl::StatusOr<Config> config = ParseConfig(sticky + ab, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rollouts[0].steps, (std::vector<double>{50}));  // the default share
  std::string no_end = sticky + ab;
  no_end.replace(no_end.find(", duration: 10m"), 15, "");
  EXPECT_THAT(ErrorOf(no_end), HasSubstr("ab_test needs a duration or a sample_size"));
  // The margins: defaults, keys, and what is out of range.
  EXPECT_EQ(config->rollouts[0].non_inferiority_margin, 0.005);
  EXPECT_EQ(config->rollouts[0].latency_margin, 0.05);
  config = ParseConfig(
      Replaced(sticky + ab, "duration: 10m", "duration: 10m, non_inferiority_margin: 0.002"),
      "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rollouts[0].non_inferiority_margin, 0.002);
  EXPECT_THAT(
      ErrorOf(Replaced(sticky + ab, "duration: 10m", "duration: 10m, non_inferiority_margin: 2")),
      HasSubstr("non_inferiority_margin: must be in (0, 1)"));
  EXPECT_THAT(ErrorOf(Replaced(sticky + ab, "duration: 10m", "duration: 10m, latency_margin: 0.7")),
              HasSubstr("latency_margin: must be in (0, 0.5)"));
}

}  // namespace
}  // namespace rollout::control
