#include "metrics/proxy_collector.h"

#include <prometheus/text_serializer.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rollout::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::shared_ptr<const routing::RoutingTable> Table(double v1, double v2, uint64_t generation) {
  return *routing::RoutingTable::Create(
      {{"v1", {"127.0.0.1:9001"}}, {"v2", {"127.0.0.1:9002"}}},
      {{.name = "infer", .method_prefix = "", .split = {{"v1", v1}, {"v2", v2}}}}, generation);
}

std::string Scrape(const ProxyCollector& collector) {
  return prometheus::TextSerializer().Serialize(collector.Collect());
}

TEST(ProxyCollectorTest, ExportsTheDesignFamiliesWithTheirLabels) {
  CallMetrics calls(1);
  routing::RoutingTableStore store(Table(90, 10, 4));
  ProxyCollector collector(
      &calls, &store,
      [] {
        return absl::flat_hash_map<std::string, bool>{{"127.0.0.1:9001", true}};
      },
      "1.2.3");
  CallSeries::Cell* cell = calls.Resolve("infer", "v2")->cell(0);
  cell->OnStart();
  cell->OnEnd(14, 2'000'000, MonotonicNowNs());
  cell->OnStart();

  const std::string text = Scrape(collector);
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(rollout_proxy_requests_total{route="infer",pool="v2",grpc_code="UNAVAILABLE"} 1)"));
  EXPECT_THAT(text, Not(HasSubstr(R"(grpc_code="OK")")));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(rollout_proxy_request_duration_seconds_bucket{route="infer",pool="v2",le="0.0025"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(rollout_proxy_request_duration_seconds_bucket{route="infer",pool="v2",le="0.001"} 0)"));
  EXPECT_THAT(text, HasSubstr(R"(rollout_proxy_inflight_requests{route="infer",pool="v2"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(rollout_proxy_route_weight{route="infer",pool="v1"} 0.9)"));
  EXPECT_THAT(
      text, HasSubstr(R"(rollout_proxy_endpoint_healthy{pool="v1",endpoint="127.0.0.1:9001"} 1)"));
  EXPECT_THAT(
      text, HasSubstr(R"(rollout_proxy_endpoint_healthy{pool="v2",endpoint="127.0.0.1:9002"} 0)"));
  EXPECT_THAT(text, HasSubstr("rollout_proxy_routing_table_generation 4"));
  EXPECT_THAT(text, HasSubstr(R"(rollout_proxy_build_info{version="1.2.3"} 1)"));
  EXPECT_THAT(text, HasSubstr("# TYPE rollout_proxy_request_duration_seconds histogram"));
  for (const char* family : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                             "process_open_fds", "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_THAT(text, HasSubstr(family));
  }
}

TEST(ProxyCollectorTest, WeightGaugesFollowTheMomentATableIsPublished) {
  CallMetrics calls(1);
  routing::RoutingTableStore store(Table(90, 10, 1));
  ProxyCollector collector(&calls, &store, nullptr, "x");
  EXPECT_THAT(Scrape(collector),
              HasSubstr(R"(rollout_proxy_route_weight{route="infer",pool="v2"} 0.1)"));
  store.Publish(Table(50, 50, 2));
  const std::string text = Scrape(collector);
  EXPECT_THAT(text, HasSubstr(R"(rollout_proxy_route_weight{route="infer",pool="v2"} 0.5)"));
  EXPECT_THAT(text, HasSubstr("rollout_proxy_routing_table_generation 2"));
}

}  // namespace
}  // namespace rollout::metrics
