// ListenerCounters: every label value is exported from the start, and counts add up.
#include "metrics/listener_counters.h"

#include "gtest/gtest.h"

namespace rollout::metrics {
namespace {

const prometheus::MetricFamily* Find(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name) {
  for (const auto& f : families) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

TEST(ListenerCountersTest, EveryLabelValueIsThereFromTheStartAndCountsAddUp) {
  ListenerCounters counters;
  counters.ConnectionOpened();
  counters.ConnectionOpened();
  counters.ConnectionClosed();
  counters.Count(ListenerCounters::Violation::kRapidReset);
  counters.Count(ListenerCounters::Violation::kRapidReset);
  counters.Count(ListenerCounters::Timeout::kIdle);
  const auto families = counters.Families();
  const auto* open = Find(families, "rollout_proxy_downstream_connections");
  ASSERT_NE(open, nullptr);
  EXPECT_EQ(open->metric[0].gauge.value, 1);
  const auto* accepted = Find(families, "rollout_proxy_downstream_connections_accepted_total");
  ASSERT_NE(accepted, nullptr);
  EXPECT_EQ(accepted->metric[0].counter.value, 2);
  const auto* violations = Find(families, "rollout_proxy_http2_violations_total");
  ASSERT_NE(violations, nullptr);
  ASSERT_EQ(violations->metric.size(), static_cast<size_t>(ListenerCounters::Violation::kCount));
  for (const auto& m : violations->metric) {
    EXPECT_EQ(m.label[0].name, "violation");
    EXPECT_EQ(m.counter.value, m.label[0].value == "rapid_reset" ? 2 : 0) << m.label[0].value;
  }
  const auto* timeouts = Find(families, "rollout_proxy_downstream_timeouts_total");
  ASSERT_NE(timeouts, nullptr);
  EXPECT_EQ(timeouts->metric[0].label[0].value, "idle");
  EXPECT_EQ(timeouts->metric[0].counter.value, 1);
  EXPECT_NE(Find(families, "rollout_proxy_downstream_connections_rejected_total"), nullptr);
}

}  // namespace
}  // namespace rollout::metrics
