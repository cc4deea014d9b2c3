#include "config/config_loader.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/valid_config.h"

namespace rollout::control {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ConfigLoaderTest, ParsesTheFullConfig) {
  absl::StatusOr<Config> config = ParseConfig(kValid, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "0.0.0.0:8500");
  EXPECT_EQ(config->workers, 2);
  EXPECT_EQ(config->drain_timeout, absl::Seconds(3));
  EXPECT_EQ(config->max_message_bytes, 64 << 20);
  ASSERT_EQ(config->pools.size(), 2u);
  EXPECT_EQ(config->pools[0].endpoints.size(), 2u);
  ASSERT_EQ(config->table->routes().size(), 2u);
  const auto& infer = config->table->routes()[0];
  EXPECT_EQ(infer.method_prefix, "/inference.GRPCInferenceService/");
  EXPECT_EQ(infer.split.PartsPerMillion(0), 995000u);
  EXPECT_EQ(infer.split.PartsPerMillion(1), 5000u);
  EXPECT_EQ(config->table->routes()[1].method_prefix, "");  // no match: every method
}

TEST(ConfigLoaderTest, MetricsListener) {
  absl::StatusOr<Config> config =
      ParseConfig(Variant("workers: 2", "metrics: { listen: 0.0.0.0:9500 }"), "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9500");
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "metrics: { listen: nowhere }")),
              AllOf(HasSubstr("metrics.listen"), HasSubstr("missing :port")));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "metrics: { port: 9500 }")),
              HasSubstr("metrics.port: unknown key"));
}

TEST(ConfigLoaderTest, ConcurrencyLimitsForTheListenerAndEachPool) {
  std::string yaml = Variant("workers: 2", "max_concurrent_calls: 1000");
  const std::string v2 = "endpoints: [\"127.0.0.1:9002\"]";
  yaml.insert(yaml.find(v2) + v2.size(), ", max_concurrent_calls: 50");
  absl::StatusOr<Config> config = ParseConfig(yaml, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->max_concurrent_calls, 1000);
  EXPECT_EQ(config->table->pools()[0].max_concurrent_calls, 0);  // no limit
  EXPECT_EQ(config->table->pools()[1].max_concurrent_calls, 50);
  EXPECT_THAT(
      ErrorOf(Variant("workers: 2", "max_concurrent_calls: 0")),
      AllOf(HasSubstr("proxy.yaml:3: max_concurrent_calls"), HasSubstr("out of range 1..")));
  EXPECT_THAT(ErrorOf(Variant(v2, v2 + ", max_concurrent_calls: lots")),
              AllOf(HasSubstr("pools[1].max_concurrent_calls"), HasSubstr("must be an integer")));
}

TEST(ConfigLoaderTest, DataPlaneIsRefusedSinceThereIsOnlyOne) {
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "data_plane: nghttp2")),
              AllOf(HasSubstr("proxy.yaml:3: data_plane"),
                    HasSubstr("the proxy has one data plane"), HasSubstr("remove the key")));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "data_plane: grpc")),
              HasSubstr("the proxy has one data plane"));
  // Pool TLS and mirroring are taken.
  const std::string v2 = "endpoints: [\"127.0.0.1:9002\"]";
  std::string both = kValid;
  both.insert(both.find(v2) + v2.size(), ", tls: { ca_file: /etc/ssl/certs/ca-certificates.crt }");
  both.insert(both.find("    split: [ { pool: v1, weight: 99.5 }"),
              "    mirror: { pool: v2, percent: 5 }\n");
  absl::StatusOr<Config> config = ParseConfig(both, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->table->pools()[1].tls.enabled);
}

TEST(ConfigLoaderTest, ConnectionLimitsHaveDefaultsAndAreCheckedByName) {
  absl::StatusOr<Config> config = ParseConfig(kValid, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->connections, routing::ConnectionLimits());
  EXPECT_EQ(config->connections.max_concurrent_streams, 100u);
  EXPECT_EQ(config->connections.max_header_list_bytes, 16384u);
  config = ParseConfig(Variant("workers: 2", R"(connections:
  max_connections: 50
  max_concurrent_streams: 20
  max_header_list_bytes: 8192
  idle_timeout: 0s
  handshake_timeout: 2s)"),
                       "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->connections.max_connections, 50);
  EXPECT_EQ(config->connections.max_concurrent_streams, 20u);
  EXPECT_EQ(config->connections.max_header_list_bytes, 8192u);
  EXPECT_EQ(config->connections.idle_timeout, absl::ZeroDuration());
  EXPECT_EQ(config->connections.handshake_timeout, absl::Seconds(2));

  const std::string section = "connections: ";
  EXPECT_THAT(ErrorOf(Variant("workers: 2", section + "{ max_header_list_bytes: 100000 }")),
              HasSubstr("connections.max_header_list_bytes: 100000 is out of range 1024..65536"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", section + "{ max_concurrent_streams: 0 }")),
              HasSubstr("connections.max_concurrent_streams: 0 is out of range"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", section + "{ handshake_timeout: 1ms }")),
              HasSubstr("connections.handshake_timeout: must be at least 100ms"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", section + "{ max_streams: 5 }")),
              HasSubstr("connections.max_streams: unknown key"));
}

TEST(ConfigLoaderTest, TheResolverTakesIpServersAndARefreshOfAtLeastASecond) {
  absl::StatusOr<Config> config = ParseConfig(kValid, "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->resolver.servers.empty());  // the system's
  EXPECT_EQ(config->resolver.refresh_interval, absl::Seconds(30));
  const std::string section = "resolver: ";
  config =
      ParseConfig(Variant("workers: 2", section + "{ servers: [\"10.0.0.2\", \"10.0.0.3:5353\", "
                                                  "\"fd00::2\", \"[fd00::3]:53\"], "
                                                  "refresh_interval: 5s }"),
                  "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->resolver.servers,
            (std::vector<std::string>{"10.0.0.2", "10.0.0.3:5353", "fd00::2", "[fd00::3]:53"}));
  EXPECT_EQ(config->resolver.refresh_interval, absl::Seconds(5));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", section + "{ servers: [dns.example] }")),
              HasSubstr("resolver.servers[0]: \"dns.example\" must be an IP address, or IP:port"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", section + "{ servers: [\"10.0.0.2:0\"] }")),
              HasSubstr("resolver.servers[0]"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", section + "{ refresh_interval: 100ms }")),
              HasSubstr("resolver.refresh_interval: must be at least 1s"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", section + "{ ttl: 5s }")),
              HasSubstr("resolver.ttl: unknown key"));
}

TEST(ConfigLoaderTest, AdminAndStateDirPathsAreRelativeToTheConfigFile) {
  const std::string dir = ::testing::TempDir() + "/cfgdir";
  std::system(("mkdir -p " + dir).c_str());
  std::ofstream(dir + "/proxy.yaml")
      << Variant("workers: 2", "admin: { token_file: admin.tokens }\nstate_dir: state");
  absl::StatusOr<Config> config = LoadConfigFile(dir + "/proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->admin->listen, "127.0.0.1:8501");  // loopback by default
  EXPECT_EQ(config->admin->token_file, dir + "/admin.tokens");
  EXPECT_EQ(config->state_dir, dir + "/state");
}

TEST(ConfigLoaderTest, DefaultsWhenOptionalKeysAreAbsent) {
  absl::StatusOr<Config> config = ParseConfig(R"(
listen: 127.0.0.1:0
pools: [ { name: a, endpoints: ["127.0.0.1:1"] } ]
routes: [ { name: r, split: [ { pool: a, weight: 1 } ] } ]
)",
                                              "x.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->workers, 0);
  EXPECT_EQ(config->drain_timeout, absl::Seconds(10));
  EXPECT_EQ(config->max_message_bytes, -1);
  EXPECT_FALSE(config->metrics_listen.has_value());
}

TEST(ConfigLoaderTest, UnknownPool) {
  EXPECT_THAT(ErrorOf(Variant("{ pool: v2, weight: 0.5 }", "{ pool: v3, weight: 0.5 }")),
              AllOf(HasSubstr("proxy.yaml"), HasSubstr("routes[0].split[1].pool"),
                    HasSubstr("unknown pool \"v3\""), HasSubstr("known pools: v1, v2")));
}

TEST(ConfigLoaderTest, AllWeightsZero) {
  EXPECT_THAT(ErrorOf(Variant("weight: 99.5 }, { pool: v2, weight: 0.5",
                              "weight: 0 }, { pool: v2, weight: 0")),
              AllOf(HasSubstr("routes[0].split"), HasSubstr("all weights are zero")));
}

TEST(ConfigLoaderTest, NegativeWeight) {
  EXPECT_THAT(ErrorOf(Variant("weight: 0.5", "weight: -0.5")),
              AllOf(HasSubstr("routes[0].split[1].weight"), HasSubstr("negative")));
}

TEST(ConfigLoaderTest, WeightThatIsNotANumberNamesTheLine) {
  EXPECT_THAT(ErrorOf(Variant("weight: 0.5", "weight: lots")),
              AllOf(HasSubstr("proxy.yaml:12: routes[0].split[1].weight"),
                    HasSubstr("must be a number, got \"lots\"")));
}

TEST(ConfigLoaderTest, DuplicatePoolName) {
  EXPECT_THAT(ErrorOf(Variant("name: v2,", "name: v1,")),
              AllOf(HasSubstr("pools[1].name"), HasSubstr("duplicate pool name \"v1\"")));
}

TEST(ConfigLoaderTest, DuplicateRouteName) {
  EXPECT_THAT(ErrorOf(Variant("name: rest", "name: infer")),
              AllOf(HasSubstr("routes[1].name"), HasSubstr("duplicate route name \"infer\"")));
}

TEST(ConfigLoaderTest, DuplicateEndpointInAPool) {
  EXPECT_THAT(ErrorOf(Variant("\"127.0.0.1:9011\"", "\"127.0.0.1:9001\"")),
              AllOf(HasSubstr("pools[0].endpoints[1]"), HasSubstr("duplicate endpoint")));
}

TEST(ConfigLoaderTest, BadEndpointAddress) {
  EXPECT_THAT(ErrorOf(Variant("127.0.0.1:9002", "127.0.0.1:99999")),
              AllOf(HasSubstr("proxy.yaml:8: pools[1].endpoints[0]"),
                    HasSubstr("bad address \"127.0.0.1:99999\""), HasSubstr("out of range")));
}

TEST(ConfigLoaderTest, BadListenAddress) {
  EXPECT_THAT(ErrorOf(Variant("listen: 0.0.0.0:8500", "listen: 8500")),
              AllOf(HasSubstr("proxy.yaml:2: listen"), HasSubstr("missing :port")));
}

TEST(ConfigLoaderTest, UnknownTopLevelKey) {
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workerz: 2")),
              AllOf(HasSubstr("proxy.yaml:3: workerz"), HasSubstr("unknown key \"workerz\""),
                    HasSubstr("allowed: listen, workers")));
}

TEST(ConfigLoaderTest, UnknownNestedKey) {
  EXPECT_THAT(ErrorOf(Variant("{ pool: v2, weight: 0.5 }", "{ pool: v2, wieght: 0.5 }")),
              AllOf(HasSubstr("routes[0].split[1].wieght"), HasSubstr("unknown key")));
  EXPECT_THAT(ErrorOf(Variant("method_prefix:", "methd:")),
              HasSubstr("routes[0].match.methd: unknown key"));
}

TEST(ConfigLoaderTest, DuplicateKey) {
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 2\nworkers: 3")),
              AllOf(HasSubstr("workers"), HasSubstr("duplicate key")));
}

TEST(ConfigLoaderTest, RoutingRules) {
  absl::StatusOr<Config> config = ParseConfig(R"(
listen: 127.0.0.1:0
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001"] }
  - { name: v2, endpoints: ["127.0.0.1:9002"] }
  - { name: preview, endpoints: ["127.0.0.1:9003"] }
routes:
  - name: resnet
    match:
      method: /inference.GRPCInferenceService/ModelInfer
      model: resnet
      metadata:
        - { key: x-tenant, equals: acme }
        - { key: x-env, prefix: prod }
        - { key: x-user, regex: "beta-.*" }
    sticky_key: x-user-id
    override_header: x-rollout-pool
    override_pools: [ preview ]
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
)",
                                              "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& route = config->table->routes()[0];
  EXPECT_EQ(route.method, "/inference.GRPCInferenceService/ModelInfer");
  EXPECT_EQ(route.model, "resnet");
  ASSERT_EQ(route.metadata.size(), 3u);
  EXPECT_EQ(route.metadata[2].kind, routing::MetadataMatchSpec::Kind::kRegex);
  EXPECT_EQ(route.sticky_key, "x-user-id");
  EXPECT_EQ(route.override_pools, std::vector<size_t>{2});
}

TEST(ConfigLoaderTest, PoolHealthChecksAndOutlierDetection) {
  absl::StatusOr<Config> config = ParseConfig(
      Variant(
          "- { name: v2, endpoints: [\"127.0.0.1:9002\"] }",
          "- name: v2\n    endpoints: [\"127.0.0.1:9002\"]\n"
          "    health_check: { interval: 2s, timeout: 300ms, unhealthy_threshold: 4, service: m }\n"
          "    outlier_detection: { consecutive_failures: 7, base_ejection: 5s, max_ejection: 1m, "
          "max_ejection_percent: 30 }"),
      "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& pool = config->table->pools()[1];
  EXPECT_TRUE(pool.health_check.enabled);
  EXPECT_EQ(pool.health_check.interval, absl::Seconds(2));
  EXPECT_EQ(pool.health_check.timeout, absl::Milliseconds(300));
  EXPECT_EQ(pool.health_check.unhealthy_threshold, 4);
  EXPECT_EQ(pool.health_check.healthy_threshold, 2);  // default
  EXPECT_EQ(pool.health_check.service, "m");
  EXPECT_EQ(pool.outlier.consecutive_failures, 7);
  EXPECT_EQ(pool.outlier.max_ejection, absl::Minutes(1));
  EXPECT_EQ(pool.outlier.max_ejection_percent, 30);
  EXPECT_FALSE(config->table->pools()[0].health_check.enabled);
  EXPECT_EQ(config->table->pools()[0].outlier.consecutive_failures, 5);  // default

  EXPECT_THAT(
      ErrorOf(Variant(
          "- { name: v2, endpoints: [\"127.0.0.1:9002\"] }",
          "- { name: v2, endpoints: [\"127.0.0.1:9002\"], health_check: { interval: 0s } }")),
      HasSubstr("pools[1].health_check: interval and timeout must be > 0"));
  EXPECT_THAT(ErrorOf(Variant("- { name: v2, endpoints: [\"127.0.0.1:9002\"] }",
                              "- { name: v2, endpoints: [\"127.0.0.1:9002\"], outlier_detection: { "
                              "max_ejection_percent: 101 } }")),
              HasSubstr("pools[1].outlier_detection.max_ejection_percent: 101 is out of range"));
  EXPECT_THAT(
      ErrorOf(Variant(
          "- { name: v2, endpoints: [\"127.0.0.1:9002\"] }",
          "- { name: v2, endpoints: [\"127.0.0.1:9002\"], health_check: { intervl: 1s } }")),
      HasSubstr("pools[1].health_check.intervl: unknown key"));
}

TEST(ConfigLoaderTest, RoutingRuleErrors) {
  auto with = [](const std::string& route_lines) {
    return ErrorOf(Variant("  - name: rest\n", "  - name: rest\n" + route_lines));
  };
  EXPECT_THAT(with("    match: { metadata: [ { key: x-a, regex: \"(\" } ] }\n"),
              AllOf(HasSubstr("routes[1].match.metadata[0].regex"), HasSubstr("invalid regex")));
  EXPECT_THAT(with("    match: { metadata: [ { key: x-a, equals: a, prefix: b } ] }\n"),
              HasSubstr("routes[1].match.metadata[0]: needs exactly one of equals, prefix, regex"));
  EXPECT_THAT(with("    sticky_key: X-User-Id\n"),
              AllOf(HasSubstr("routes[1].sticky_key"), HasSubstr("lowercase")));
  EXPECT_THAT(with("    override_header: x-pool\n    override_pools: [ v9 ]\n"),
              HasSubstr("routes[1].override_pools[0]: unknown pool \"v9\""));
  EXPECT_THAT(with("    override_pools: [ v1 ]\n"),
              HasSubstr("override_pools: needs override_header"));
  EXPECT_THAT(with("    match: { method: ModelInfer }\n"), HasSubstr("routes[1].match.method"));
}

TEST(ConfigLoaderTest, MirrorSettings) {
  absl::StatusOr<Config> config =
      ParseConfig(Variant("  - name: rest",
                          "    mirror: { pool: v2, percent: 5, tolerance: 0.01 }\n  - name: rest"),
                  "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& route = config->table->routes()[0];
  EXPECT_EQ(route.mirror_pool, 1);
  EXPECT_EQ(route.mirror_ppm, 50000u);
  EXPECT_EQ(route.mirror_max_inflight, 100);
  EXPECT_DOUBLE_EQ(route.mirror_tolerance, 0.01);
  EXPECT_THAT(
      ErrorOf(Variant("  - name: rest", "    mirror: { pool: v9, percent: 5 }\n  - name: rest")),
      HasSubstr("routes[0].mirror.pool: unknown pool \"v9\""));
  EXPECT_THAT(
      ErrorOf(Variant("  - name: rest", "    mirror: { pool: v2, percent: 500 }\n  - name: rest")),
      HasSubstr("routes[0].mirror.percent: must be in (0, 100]"));
}

TEST(ConfigLoaderTest, DrainAndWatchKeysAndTheRetiredSharedState) {
  absl::StatusOr<Config> config =
      ParseConfig(Variant("workers: 2",
                          "workers: 2\ndrain_delay: 5s\nwatch_config: true\n"
                          "state_dir: /var/lib/rollout-proxy"),
                  "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->drain_delay, absl::Seconds(5));
  EXPECT_TRUE(config->watch_config);
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 2\nwatch_config: yes please")),
              HasSubstr("proxy.yaml:4: watch_config: must be true or false"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 2\nshared_state: true")),
              HasSubstr("shared_state: is no longer a setting: replicas share their state "
                        "through state_store.etcd"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 2\ndrain_delay: later")),
              HasSubstr("drain_delay: bad duration \"later\""));
}

TEST(ConfigLoaderTest, BusyPollIsADurationOfAtMostTenMilliseconds) {
  absl::StatusOr<Config> config =
      ParseConfig(Variant("workers: 2", "workers: 2\nbusy_poll: 50us"), "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->busy_poll, absl::Microseconds(50));
  EXPECT_EQ(ParseConfig(Variant("workers: 2", "workers: 2"), "proxy.yaml")->busy_poll,
            absl::ZeroDuration());
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 2\nbusy_poll: 1s")),
              HasSubstr("busy_poll: must be at most 10ms"));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 2\nbusy_poll: -1ms")),
              HasSubstr("busy_poll: bad duration \"-1ms\""));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 2\nbusy_poll: soon")),
              HasSubstr("busy_poll: bad duration \"soon\""));
}

// The io_uring trial (issue 21) did not win and was removed: a config that still sets it is
// told so by name, not silently run another way.
TEST(ConfigLoaderTest, TheRemovedIoUringKeyIsAnUnknownKey) {
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 2\nio_uring: true")),
              HasSubstr("unknown key \"io_uring\""));
}

TEST(ConfigLoaderTest, AnEtcdStateStoreIsCheckedByKey) {
  const std::string etcd =
      "workers: 2\nstate_store:\n  etcd:\n    endpoints: [\"127.0.0.1:2379\", "
      "\"10.0.0.6:2379\"]\n    prefix: /rollout-proxy/prod/\n    lease_ttl: 3s";
  absl::StatusOr<Config> config = ParseConfig(Variant("workers: 2", etcd), "proxy.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->etcd.has_value());
  EXPECT_EQ(config->etcd->endpoints, (std::vector<std::string>{"127.0.0.1:2379", "10.0.0.6:2379"}));
  EXPECT_EQ(config->etcd->prefix, "/rollout-proxy/prod/");
  EXPECT_EQ(config->etcd->lease_ttl, absl::Seconds(3));
  EXPECT_FALSE(config->etcd->tls.enabled);

  auto error = [&](const std::string& from, const std::string& to) {
    std::string text = etcd;
    text.replace(text.find(from), from.size(), to);
    return ErrorOf(Variant("workers: 2", text));
  };
  EXPECT_THAT(error("prefix: /rollout-proxy/prod/", "prefix: rollout"),
              HasSubstr("state_store.etcd.prefix: \"rollout\" must start and end with /"));
  EXPECT_THAT(error("lease_ttl: 3s", "lease_ttl: 500ms"),
              HasSubstr("state_store.etcd.lease_ttl: must be between 2s and 5m"));
  EXPECT_THAT(error("\"10.0.0.6:2379\"", "\"10.0.0.6\""),
              HasSubstr("state_store.etcd.endpoints[1]"));
  EXPECT_THAT(error("    prefix: /rollout-proxy/prod/\n", ""),
              HasSubstr("state_store.etcd.prefix: required"));
  EXPECT_THAT(error("lease_ttl", "lease"), HasSubstr("state_store.etcd.lease: unknown key"));
  EXPECT_THAT(error("lease_ttl: 3s", "lease_ttl: 3s\n    tls: { ca_file: /nonexistent/ca.crt }"),
              AllOf(HasSubstr("state_store.etcd.tls"), HasSubstr("/nonexistent/ca.crt")));
  EXPECT_THAT(ErrorOf(Variant("workers: 2", etcd + "\nstate_dir: ./state")),
              HasSubstr("state_dir: and state_store are two places for the same state"));
}

TEST(ConfigLoaderTest, RequiredSettingsOfOptionalParts) {
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "admin: { listen: 127.0.0.1:8501 }")),
              HasSubstr("admin.token_file: required"));
}

TEST(ConfigLoaderTest, MissingRequiredKeys) {
  EXPECT_THAT(ErrorOf(Variant("listen: 0.0.0.0:8500\n", "")),
              HasSubstr("listen: missing required key"));
  EXPECT_THAT(ErrorOf(Variant("    split: [ { pool: v1, weight: 1 } ]", "")),
              HasSubstr("routes[1]: missing required key \"split\""));
  EXPECT_THAT(ErrorOf(Variant("- { name: v2, endpoints: [\"127.0.0.1:9002\"] }", "- { name: v2 }")),
              HasSubstr("pools[1]: missing required key \"endpoints\""));
}

TEST(ConfigLoaderTest, OutOfRangeScalars) {
  EXPECT_THAT(ErrorOf(Variant("workers: 2", "workers: 0")),
              HasSubstr("workers: 0 is out of range 1..256"));
  EXPECT_THAT(ErrorOf(Variant("drain_timeout: 3s", "drain_timeout: soon")),
              HasSubstr("drain_timeout: bad duration \"soon\""));
  EXPECT_THAT(ErrorOf(Variant("drain_timeout: 3s", "drain_timeout: -1s")),
              HasSubstr("bad duration"));
}

TEST(ConfigLoaderTest, WrongShapes) {
  EXPECT_THAT(ErrorOf("listen: 127.0.0.1:0\npools: 3\nroutes: []\n"),
              HasSubstr("proxy.yaml:2: pools: must be a list"));
  EXPECT_THAT(ErrorOf("listen: [1, 2]\npools: []\nroutes: []\n"),
              HasSubstr("listen: must be a string"));
  EXPECT_THAT(ErrorOf("- just\n- a list\n"), HasSubstr("must be a mapping"));
  EXPECT_THAT(ErrorOf(""), HasSubstr("the config is empty"));
}

TEST(ConfigLoaderTest, InvalidYamlNamesTheLine) {
  EXPECT_THAT(ErrorOf("listen: 127.0.0.1:0\npools: [ { name: a\n"),
              AllOf(HasSubstr("proxy.yaml:"), HasSubstr("invalid YAML")));
}

TEST(ConfigLoaderTest, LoadsFromFileAndNamesAMissingOne) {
  const std::string path = ::testing::TempDir() + "/config_loader_test.yaml";
  std::ofstream(path) << kValid;
  absl::StatusOr<Config> config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source, path);
  absl::StatusOr<Config> missing = LoadConfigFile("/nonexistent/proxy.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/proxy.yaml: cannot open"));
}

}  // namespace
}  // namespace rollout::control
