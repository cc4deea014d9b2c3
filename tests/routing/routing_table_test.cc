#include "routing/routing_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/host_port.h"
#include "routing/routing_table_store.h"

namespace rollout::routing {
namespace {

using ::testing::HasSubstr;

std::vector<PoolSpec> TwoPools() {
  return {{"v1", {"127.0.0.1:9001"}}, {"v2", {"127.0.0.1:9002", "localhost:9012"}}};
}

TEST(RoutingTableTest, FirstPrefixMatchWinsAndSplitPicksThePool) {
  auto table = RoutingTable::Create(
      TwoPools(),
      {{.name = "infer",
        .method_prefix = "/inference.GRPCInferenceService/ModelInfer",
        .split = {{"v2", 1}}},
       {.name = "rest", .method_prefix = "/inference.", .split = {{"v1", 1}}},
       {.name = "all", .method_prefix = "", .split = {{"v1", 50}, {"v2", 50}}}},
      7);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ((*table)->generation(), 7u);
  auto d = (*table)->Decide("/inference.GRPCInferenceService/ModelInfer", 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->route, 0u);
  EXPECT_EQ(d->pool, 1u);
  EXPECT_EQ((*table)->MatchRoute("/inference.GRPCInferenceService/ServerLive"), 1);
  EXPECT_EQ((*table)->MatchRoute("/other.Service/Call"), 2);
  // The catch-all route splits 50/50 by the injected random value.
  EXPECT_EQ((*table)->Decide("/other.Service/Call", 0)->pool, 0u);
  EXPECT_EQ((*table)->Decide("/other.Service/Call", WeightedSplit::kResolution / 2)->pool, 1u);
}

TEST(RoutingTableTest, NoMatchIsUnimplementedNamingTheMethod) {
  auto table = RoutingTable::Create(
      TwoPools(), {{.name = "infer", .method_prefix = "/inference.", .split = {{"v1", 1}}}}, 1);
  ASSERT_TRUE(table.ok());
  auto d = (*table)->Decide("/grpc.health.v1.Health/Check", 0);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(d.status().message(), HasSubstr("/grpc.health.v1.Health/Check"));
}

TEST(RoutingTableTest, UnknownPoolIsNamedWithTheKnownOnes) {
  auto table = RoutingTable::Create(
      TwoPools(), {{.name = "r", .method_prefix = "", .split = {{"v1", 9}, {"v3", 1}}}}, 1);
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("routes[0].split[1].pool"));
  EXPECT_THAT(table.status().message(), HasSubstr("unknown pool \"v3\""));
  EXPECT_THAT(table.status().message(), HasSubstr("v1, v2"));
}

TEST(RoutingTableTest, RejectsDuplicatesAndBadShapes) {
  auto dup_pool =
      RoutingTable::Create({{"v1", {"a:1"}}, {"v1", {"b:1"}}},
                           {{.name = "r", .method_prefix = "", .split = {{"v1", 1}}}}, 1);
  EXPECT_THAT(dup_pool.status().message(), HasSubstr("pools[1].name: duplicate pool name \"v1\""));
  auto dup_route =
      RoutingTable::Create(TwoPools(),
                           {{.name = "r", .method_prefix = "", .split = {{"v1", 1}}},
                            {.name = "r", .method_prefix = "/x", .split = {{"v2", 1}}}},
                           1);
  EXPECT_THAT(dup_route.status().message(), HasSubstr("routes[1].name: duplicate route name"));
  auto twice = RoutingTable::Create(
      TwoPools(), {{.name = "r", .method_prefix = "", .split = {{"v1", 1}, {"v1", 2}}}}, 1);
  EXPECT_THAT(twice.status().message(), HasSubstr("listed twice"));
  auto bad_prefix = RoutingTable::Create(
      TwoPools(), {{.name = "r", .method_prefix = "inference.", .split = {{"v1", 1}}}}, 1);
  EXPECT_THAT(bad_prefix.status().message(), HasSubstr("routes[0].match.method_prefix"));
  auto zero = RoutingTable::Create(
      TwoPools(), {{.name = "r", .method_prefix = "", .split = {{"v1", 0}, {"v2", 0}}}}, 1);
  EXPECT_THAT(zero.status().message(), HasSubstr("routes[0].split: all weights are zero"));
  auto empty_pool = RoutingTable::Create(
      {{"v1", {}}}, {{.name = "r", .method_prefix = "", .split = {{"v1", 1}}}}, 1);
  EXPECT_THAT(empty_pool.status().message(), HasSubstr("pools[0].endpoints"));
  auto bad_endpoint = RoutingTable::Create(
      {{"v1", {"127.0.0.1"}}}, {{.name = "r", .method_prefix = "", .split = {{"v1", 1}}}}, 1);
  EXPECT_THAT(bad_endpoint.status().message(), HasSubstr("pools[0].endpoints[0]: bad address"));
  EXPECT_FALSE(
      RoutingTable::Create({}, {{.name = "r", .method_prefix = "", .split = {{"v1", 1}}}}, 1).ok());
  EXPECT_FALSE(RoutingTable::Create(TwoPools(), {}, 1).ok());
}

TEST(RoutingTableTest, ModelRoutesAskForTheModelOnlyWhenTheyComeFirst) {
  auto table = RoutingTable::Create(TwoPools(),
                                    {{.name = "live",
                                      .method = "/inference.GRPCInferenceService/ServerLive",
                                      .split = {{"v1", 1}}},
                                     {.name = "resnet", .model = "resnet", .split = {{"v2", 1}}},
                                     {.name = "rest", .split = {{"v1", 1}}}},
                                    1);
  ASSERT_TRUE(table.ok()) << table.status();
  // A route without a model condition comes first: decided at once.
  auto live = (*table)->Decide(CallAttributes{"/inference.GRPCInferenceService/ServerLive"}, 0);
  ASSERT_TRUE(live.ok());
  EXPECT_FALSE(live->needs_model);
  EXPECT_EQ(live->route, 0u);
  // Otherwise the model decides: ask for it, then route by it.
  auto unknown = (*table)->Decide(CallAttributes{"/inference.GRPCInferenceService/ModelInfer"}, 0);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->needs_model);
  CallAttributes with_model{"/inference.GRPCInferenceService/ModelInfer"};
  with_model.model = "resnet";
  EXPECT_EQ((*table)->Decide(with_model, 0)->route, 1u);
  with_model.model = "bert";
  EXPECT_EQ((*table)->Decide(with_model, 0)->route, 2u);
  with_model.model = "";  // the message had no model_name
  EXPECT_EQ((*table)->Decide(with_model, 0)->route, 2u);
}

TEST(HostPortTest, AcceptsHostsAndPorts) {
  EXPECT_TRUE(ValidateHostPort("127.0.0.1:9001", PortZero::kReject).ok());
  EXPECT_TRUE(ValidateHostPort("model-v2.default.svc:8001", PortZero::kReject).ok());
  EXPECT_TRUE(ValidateHostPort("[::1]:9001", PortZero::kReject).ok());
  EXPECT_TRUE(ValidateHostPort("0.0.0.0:0", PortZero::kAllow).ok());
}

TEST(HostPortTest, RejectsWithAReason) {
  EXPECT_THAT(ValidateHostPort("127.0.0.1", PortZero::kReject).message(),
              HasSubstr("missing :port"));
  EXPECT_THAT(ValidateHostPort(":80", PortZero::kReject).message(), HasSubstr("missing host"));
  EXPECT_THAT(ValidateHostPort("host:http", PortZero::kReject).message(),
              HasSubstr("not a number"));
  EXPECT_THAT(ValidateHostPort("host:70000", PortZero::kReject).message(),
              HasSubstr("out of range"));
  EXPECT_THAT(ValidateHostPort("host:0", PortZero::kReject).message(), HasSubstr("port 0"));
  EXPECT_THAT(ValidateHostPort("ho st:1", PortZero::kReject).message(),
              HasSubstr("invalid character"));
  EXPECT_THAT(ValidateHostPort("::1:80", PortZero::kReject).message(), HasSubstr("[brackets]"));
  EXPECT_FALSE(ValidateHostPort("[::1:80", PortZero::kReject).ok());
}

TEST(RoutingTableStoreTest, CacheSeesEachPublishedTable) {
  auto first = RoutingTable::Create(TwoPools(),
                                    {{.name = "r", .method_prefix = "", .split = {{"v1", 1}}}}, 1);
  auto second = RoutingTable::Create(TwoPools(),
                                     {{.name = "r", .method_prefix = "", .split = {{"v2", 1}}}}, 2);
  ASSERT_TRUE(first.ok() && second.ok());
  RoutingTableStore store(*first);
  RoutingTableCache cache(&store);
  EXPECT_EQ(cache.Get().generation(), 1u);
  const uint64_t version = cache.version();
  store.Publish(*second);
  EXPECT_EQ(cache.Get().generation(), 2u);
  EXPECT_NE(cache.version(), version);
  EXPECT_EQ(cache.Get().Decide("/a/b", 0)->pool, 1u);
  // The snapshot a caller holds stays alive after a newer one is published.
  std::shared_ptr<const RoutingTable> held = store.Current();
  store.Publish(*first);
  EXPECT_EQ(held->generation(), 2u);
  EXPECT_EQ(cache.Get().generation(), 1u);
}

}  // namespace
}  // namespace rollout::routing
