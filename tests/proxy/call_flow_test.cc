// CallFlow, the call policy, driven in-process with a fake transport: fake Links stand in
// for the backend connections, and the test plays the wire's part (a stream opened, an
// attempt that never reached its endpoint, the call's end).
#include "proxy/call_flow.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/call_series.h"
#include "proxy/call_router.h"
#include "proxy/engine_shared.h"
#include "routing/routing_table_store.h"

namespace rollout::proxy {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Kind = CallFlow::Verdict::Kind;

constexpr int kResourceExhausted = 8, kUnavailable = 14, kUnimplemented = 12;

class FakeLink final : public UpstreamSet::Link {
 public:
  bool failing() const override { return false; }
};

class CallFlowTest : public ::testing::Test {
 protected:
  void Use(std::vector<routing::PoolSpec> pools, std::vector<routing::RouteSpec> routes) {
    auto table = routing::RoutingTable::Create(std::move(pools), std::move(routes), 1);
    ASSERT_TRUE(table.ok()) << table.status();
    store_ = std::make_unique<routing::RoutingTableStore>(*std::move(table));
    router_ = std::make_unique<CallRouter>(0, store_.get(), &metrics_, &shared_,
                                           [](const std::string&, const routing::UpstreamTlsSpec&) {
                                             return std::make_unique<FakeLink>();
                                           });
  }
  // The (route, pool) totals so far.
  metrics::CallSeries::Totals Totals(const std::string& route, const std::string& pool) {
    return metrics_.Resolve(route, pool)->Sum();
  }
  routing::CallAttributes Attrs(absl::string_view method = "/pkg.Svc/Call") {
    routing::CallAttributes attrs;
    attrs.method = method;
    return attrs;
  }
  static constexpr int64_t kNow = 1'000'000'000;

  metrics::CallMetrics metrics_{1};
  EngineShared shared_;
  std::unique_ptr<routing::RoutingTableStore> store_;
  std::unique_ptr<CallRouter> router_;
};

TEST_F(CallFlowTest, ACallIsRoutedSentAndRecordedOnce) {
  Use({{"v1", {"10.0.0.1:1"}}}, {{.name = "all", .split = {{"v1", 1}}}});
  CallFlow flow(router_.get(), &shared_.listener_limit);
  EXPECT_EQ(flow.phase(), CallFlow::Phase::kNew);
  const CallFlow::Verdict v = flow.Start(Attrs(), {}, kNow);
  ASSERT_EQ(v.kind, Kind::kSend) << v.message;
  EXPECT_EQ(flow.phase(), CallFlow::Phase::kAttempting);
  EXPECT_TRUE(flow.attempted());
  EXPECT_EQ(flow.target().endpoint->address, "10.0.0.1:1");
  flow.Sent();
  EXPECT_EQ(flow.phase(), CallFlow::Phase::kOnBackend);
  EXPECT_EQ(flow.target().endpoint->outstanding, 1);
  EXPECT_EQ(Totals("all", "v1").inflight, 1);
  flow.End(0, kNow + 2'000'000);
  flow.End(13, kNow + 3'000'000);  // a second end changes nothing
  EXPECT_EQ(flow.phase(), CallFlow::Phase::kEnded);
  EXPECT_EQ(flow.target().endpoint->outstanding, 0);
  const metrics::CallSeries::Totals t = Totals("all", "v1");
  EXPECT_EQ(t.requests[0], 1u);
  EXPECT_EQ(t.requests[13], 0u);
  EXPECT_EQ(t.inflight, 0);
  EXPECT_NEAR(t.sum_seconds, 0.002, 1e-9);
}

TEST_F(CallFlowTest, AnAttemptThatNeverReachedItsEndpointIsRetriedTwiceThenFails) {
  Use({{"v1", {"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"}}},
      {{.name = "all", .split = {{"v1", 1}}}});
  CallFlow flow(router_.get(), &shared_.listener_limit);
  ASSERT_EQ(flow.Start(Attrs(), {}, kNow).kind, Kind::kSend);
  for (int i = 0; i < CallFlow::kMaxRetries; ++i) {
    const std::string failed = flow.target().endpoint->address;
    const CallFlow::Verdict v = flow.AttemptFailed("connect: refused", true, kNow);
    ASSERT_EQ(v.kind, Kind::kSend);
    EXPECT_NE(flow.target().endpoint->address, failed) << "retried on the endpoint that failed";
  }
  EXPECT_EQ(flow.retries(), 2);
  const CallFlow::Verdict v = flow.AttemptFailed("connect: refused", true, kNow);
  ASSERT_EQ(v.kind, Kind::kFail);
  EXPECT_EQ(v.code, kUnavailable);
  EXPECT_THAT(v.message, AllOf(HasSubstr("pool \"v1\" endpoint"), HasSubstr("the last of 3 tried"),
                               HasSubstr("connect: refused")));
  flow.End(v.code, kNow);
  EXPECT_EQ(Totals("all", "v1").retries, 2u);
  EXPECT_EQ(Totals("all", "v1").requests[kUnavailable], 1u);
}

TEST_F(CallFlowTest, AClientThatLeftIsNotRetried) {
  Use({{"v1", {"10.0.0.1:1", "10.0.0.2:1"}}}, {{.name = "all", .split = {{"v1", 1}}}});
  CallFlow flow(router_.get(), &shared_.listener_limit);
  ASSERT_EQ(flow.Start(Attrs(), {}, kNow).kind, Kind::kSend);
  EXPECT_EQ(flow.AttemptFailed("gone", /*may_retry=*/false, kNow).kind, Kind::kFail);
  EXPECT_EQ(flow.retries(), 0);
}

TEST_F(CallFlowTest, TheProxysOwnRefusalsCarryTheirStatusAndName) {
  routing::PoolSpec capped{"v1", {"10.0.0.1:1"}};
  capped.max_concurrent_calls = 1;
  Use({capped}, {{.name = "svc", .method_prefix = "/pkg.Svc/", .split = {{"v1", 1}}}});
  // No route.
  CallFlow none(router_.get(), &shared_.listener_limit);
  CallFlow::Verdict v = none.Start(Attrs("/other.Svc/Call"), {}, kNow);
  EXPECT_EQ(v.kind, Kind::kFail);
  EXPECT_EQ(v.code, kUnimplemented);
  EXPECT_FALSE(none.attempted());
  // The pool's limit: the second call in flight is refused, naming the key.
  CallFlow first(router_.get(), &shared_.listener_limit);
  ASSERT_EQ(first.Start(Attrs(), {}, kNow).kind, Kind::kSend);
  CallFlow second(router_.get(), &shared_.listener_limit);
  v = second.Start(Attrs(), {}, kNow);
  EXPECT_EQ(v.kind, Kind::kFail);
  EXPECT_EQ(v.code, kResourceExhausted);
  EXPECT_THAT(v.message, HasSubstr("pool \"v1\" is at its limit of 1"));
  EXPECT_FALSE(second.attempted()) << "a refused call must not count against an endpoint";
  // The listener's limit.
  shared_.listener_limit.set_max(1);
  CallFlow a(router_.get(), &shared_.listener_limit);
  CallFlow b(router_.get(), &shared_.listener_limit);
  a.Start(Attrs(), {}, kNow);
  v = b.Start(Attrs(), {}, kNow);
  EXPECT_EQ(v.code, kResourceExhausted);
  EXPECT_THAT(v.message, HasSubstr("the listener is at its limit of 1"));
}

TEST_F(CallFlowTest, AModelRouteWaitsForTheModelThenRoutesByIt) {
  Use({{"v1", {"10.0.0.1:1"}}, {"resnet", {"10.0.0.9:1"}}},
      {{.name = "resnet", .model = "resnet", .split = {{"resnet", 1}}},
       {.name = "rest", .split = {{"v1", 1}}}});
  CallFlow flow(router_.get(), &shared_.listener_limit);
  routing::CallAttributes attrs = Attrs();
  EXPECT_EQ(flow.Start(attrs, {}, kNow).kind, Kind::kNeedModel);
  EXPECT_EQ(flow.phase(), CallFlow::Phase::kNeedsModel);
  attrs.model = "resnet";
  ASSERT_EQ(flow.Route(attrs, {}, kNow + 5'000'000).kind, Kind::kSend);
  EXPECT_EQ(*flow.target().pool->name, "resnet");
  flow.End(0, kNow + 7'000'000);
  // The call's time counts from its start, the wait for its model included.
  EXPECT_NEAR(Totals("resnet", "resnet").sum_seconds, 0.007, 1e-9);
}

TEST_F(CallFlowTest, AnUnavailableEndCountsAgainstTheEndpointOthersDoNot) {
  routing::PoolSpec pool{"v1", {"10.0.0.1:1"}};
  pool.outlier.consecutive_failures = 2;
  pool.outlier.max_ejection_percent = 100;
  Use({pool}, {{.name = "all", .split = {{"v1", 1}}}});
  auto end_with = [&](int code) {
    CallFlow flow(router_.get(), &shared_.listener_limit);
    EXPECT_EQ(flow.Start(Attrs(), {}, kNow).kind, Kind::kSend);
    flow.Sent();
    flow.End(code, kNow);
  };
  end_with(13);  // INTERNAL: the backend answered; not the endpoint's fault
  end_with(13);
  EXPECT_TRUE(shared_.endpoints.Get("10.0.0.1:1")->Usable(metrics::MonotonicNowNs()));
  end_with(kUnavailable);
  end_with(kUnavailable);
  EXPECT_FALSE(shared_.endpoints.Get("10.0.0.1:1")->Usable(metrics::MonotonicNowNs()))
      << "not ejected";
}

}  // namespace
}  // namespace rollout::proxy
