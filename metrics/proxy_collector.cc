#include "metrics/proxy_collector.h"

#include "metrics/process_metrics.h"
#include "metrics/status_code_name.h"

namespace rollout::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric WithLabels(std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  return m;
}

ClientMetric GaugeOf(std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m = WithLabels(std::move(labels));
  m.gauge.value = value;
  return m;
}

// A histogram over kLatencyBucketsSeconds (+Inf last) from per-bucket counts.
ClientMetric Histogram(std::vector<ClientMetric::Label> labels,
                       const std::array<uint64_t, kLatencyBucketsSeconds.size() + 1>& buckets,
                       double sum_seconds) {
  ClientMetric h = WithLabels(std::move(labels));
  uint64_t cumulative = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    cumulative += buckets[b];
    h.histogram.bucket.push_back({cumulative, b < kLatencyBucketsSeconds.size()
                                                  ? kLatencyBucketsSeconds[b]
                                                  : std::numeric_limits<double>::infinity()});
  }
  h.histogram.sample_count = cumulative;
  h.histogram.sample_sum = sum_seconds;
  return h;
}

MetricFamily Family(const char* name, const char* help, MetricType type) {
  return MetricFamily{name, help, type, {}};
}

// The families fed by each (route, pool)'s call series, in the order they are exported.
class CallFamilies {
 public:
  void Add(const CallSeries& series) {
    const CallSeries::Totals t = series.Sum();
    const std::vector<ClientMetric::Label> labels = {{"route", series.route()},
                                                     {"pool", series.pool()}};
    uint64_t calls = 0, mirrored = 0;
    for (uint64_t n : t.requests) calls += n;
    for (uint64_t n : t.mirror) mirrored += n;
    if (mirrored > 0) AddMirror(labels, t);
    // Workers hold a cell for every (route, pool) pair; export only pairs that saw a call.
    if (calls == 0 && t.inflight == 0) return;
    for (int code = 0; code < kNumGrpcCodes; ++code) {
      if (t.requests[code] == 0) continue;  // codes never seen stay absent, not zero
      auto with_code = labels;
      with_code.push_back({"grpc_code", StatusCodeName(code)});
      requests_.metric.push_back(CounterOf(std::move(with_code), t.requests[code]));
    }
    duration_.metric.push_back(Histogram(labels, t.buckets, t.sum_seconds));
    inflight_.metric.push_back(GaugeOf(labels, static_cast<double>(t.inflight)));
    retries_.metric.push_back(CounterOf(labels, t.retries));
    if (t.stream.messages == 0) return;
    first_message_.metric.push_back(Histogram(labels, t.stream.first, t.stream.first_sum_seconds));
    message_gap_.metric.push_back(Histogram(labels, t.stream.gap, t.stream.gap_sum_seconds));
    messages_.metric.push_back(CounterOf(labels, t.stream.messages));
  }

  void MoveTo(std::vector<MetricFamily>* out) {
    for (MetricFamily* f :
         {&requests_, &duration_, &inflight_, &retries_, &mirror_, &mirror_difference_,
          &mirror_duration_, &top1_, &first_message_, &message_gap_, &messages_}) {
      out->push_back(std::move(*f));
    }
  }

 private:
  static ClientMetric CounterOf(std::vector<ClientMetric::Label> labels, uint64_t value) {
    ClientMetric m = WithLabels(std::move(labels));
    m.counter.value = static_cast<double>(value);
    return m;
  }

  void AddMirror(const std::vector<ClientMetric::Label>& labels, const CallSeries::Totals& t) {
    for (int r = 0; r < kNumMirrorResults; ++r) {
      auto with_result = labels;
      with_result.push_back({"result", kMirrorResultNames[r]});
      mirror_.metric.push_back(CounterOf(std::move(with_result), t.mirror[r]));
    }
    mirror_difference_.metric.push_back(GaugeOf(labels, t.mirror_max_difference));
    mirror_duration_.metric.push_back(Histogram(labels, t.mirror_buckets, t.mirror_sum_seconds));
    for (size_t i = 0; i < t.mirror_top1.size(); ++i) {
      auto with_agreement = labels;
      with_agreement.push_back({"agreement", kTop1Names[i]});
      top1_.metric.push_back(CounterOf(std::move(with_agreement), t.mirror_top1[i]));
    }
  }

  MetricFamily first_message_ =
      Family("rollout_proxy_stream_first_message_seconds",
             "Time from a call's request headers to the start of its first response message "
             "(a generative model's time to first token), by route and pool.",
             MetricType::Histogram);
  MetricFamily message_gap_ =
      Family("rollout_proxy_stream_message_gap_seconds",
             "Time between the starts of a call's successive response messages, by route and "
             "pool.",
             MetricType::Histogram);
  MetricFamily messages_ =
      Family("rollout_proxy_stream_messages_total",
             "Response messages of the calls, by route and pool.", MetricType::Counter);
  MetricFamily requests_ =
      Family("rollout_proxy_requests_total",
             "Calls the proxy finished, by route, pool and gRPC status code.", MetricType::Counter);
  MetricFamily duration_ =
      Family("rollout_proxy_request_duration_seconds",
             "Time from accepting a call to sending its status, by route and pool.",
             MetricType::Histogram);
  MetricFamily inflight_ = Family("rollout_proxy_inflight_requests",
                                  "Calls in flight, by route and pool.", MetricType::Gauge);
  MetricFamily retries_ =
      Family("rollout_proxy_upstream_retries_total",
             "Calls started again on another endpoint of their pool because they never "
             "reached the first one.",
             MetricType::Counter);
  MetricFamily mirror_ =
      Family("rollout_proxy_mirror_results_total",
             "Shadow calls to a mirror pool, by how their answers compared with the "
             "primary's (match, mismatch, error, dropped).",
             MetricType::Counter);
  MetricFamily mirror_difference_ =
      Family("rollout_proxy_mirror_max_difference",
             "Largest absolute difference between a mirror's numeric outputs and the primary's.",
             MetricType::Gauge);
  MetricFamily mirror_duration_ = Family(
      "rollout_proxy_mirror_duration_seconds",
      "Time a shadow call took at the mirror pool, by route and pool.", MetricType::Histogram);
  MetricFamily top1_ =
      Family("rollout_proxy_mirror_top1_total",
             "Classifier predictions (rows of a KServe FP32/FP64 output) of mirrored calls, "
             "by whether the mirror's top class (argmax) was the primary's.",
             MetricType::Counter);
};

MetricFamily WeightFamily(const routing::RoutingTable& table) {
  MetricFamily weight =
      Family("rollout_proxy_route_weight", "Share (0..1) of a route's new calls that go to a pool.",
             MetricType::Gauge);
  for (const auto& route : table.routes()) {
    for (size_t i = 0; i < route.split.size(); ++i) {
      weight.metric.push_back(
          GaugeOf({{"route", route.name}, {"pool", table.pools()[route.split.pool(i)].name}},
                  route.split.PartsPerMillion(i) / 1e6));
    }
  }
  return weight;
}

MetricFamily HealthFamily(const routing::RoutingTable& table,
                          const absl::flat_hash_map<std::string, bool>& health) {
  MetricFamily healthy = Family(
      "rollout_proxy_endpoint_healthy",
      "1 if the proxy can reach the endpoint (its connection is not failing).", MetricType::Gauge);
  for (const auto& pool : table.pools()) {
    for (const std::string& endpoint : pool.endpoints) {
      auto it = health.find(endpoint);
      healthy.metric.push_back(GaugeOf({{"pool", pool.name}, {"endpoint", endpoint}},
                                       it != health.end() && it->second ? 1 : 0));
    }
  }
  return healthy;
}

MetricFamily RejectedFamily(const std::vector<Rejections>& rejections) {
  MetricFamily rejected =
      Family("rollout_proxy_rejected_requests_total",
             "Calls refused with RESOURCE_EXHAUSTED because a concurrency limit was "
             "reached: the listener's (pool=\"\") or a pool's.",
             MetricType::Counter);
  for (const Rejections& r : rejections) {
    ClientMetric m = WithLabels({{"limit", r.limit}, {"pool", r.pool}});
    m.counter.value = static_cast<double>(r.rejected);
    rejected.metric.push_back(std::move(m));
  }
  return rejected;
}

}  // namespace

std::vector<MetricFamily> ProxyCollector::Collect() const {
  std::vector<MetricFamily> out;
  CallFamilies calls;
  for (const CallSeries* series : calls_->All()) calls.Add(*series);
  calls.MoveTo(&out);

  const std::shared_ptr<const routing::RoutingTable> table = tables_->Current();
  out.push_back(WeightFamily(*table));
  out.push_back(HealthFamily(*table, health_ ? health_() : decltype(health_())()));
  out.push_back(RejectedFamily(rejections_ ? rejections_() : std::vector<Rejections>()));
  out.push_back(MetricFamily{"rollout_proxy_routing_table_generation",
                             "Generation of the routing table in use.",
                             MetricType::Gauge,
                             {GaugeOf({}, static_cast<double>(table->generation()))}});
  out.push_back(MetricFamily{"rollout_proxy_build_info",
                             "Always 1; labels describe the build.",
                             MetricType::Gauge,
                             {GaugeOf({{"version", version_}}, 1)}});
  if (extra_) {
    for (MetricFamily& f : extra_()) out.push_back(std::move(f));
  }
  for (MetricFamily& f : CollectProcessMetrics()) out.push_back(std::move(f));
  return out;
}

}  // namespace rollout::metrics
