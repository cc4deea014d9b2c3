#include "rollout/rollout_metrics.h"

namespace rollout::control {
namespace {

prometheus::ClientMetric Gauge(std::vector<prometheus::ClientMetric::Label> labels, double v) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  return m;
}

}  // namespace

std::vector<prometheus::MetricFamily> RolloutFamilies(const RolloutEngine& engine) {
  prometheus::MetricFamily step{"rollout_proxy_rollout_step",
                                "Step (1-based) of the route's latest rollout.",
                                prometheus::MetricType::Gauge,
                                {}};
  prometheus::MetricFamily phase{"rollout_proxy_rollout_phase",
                                 "1 for the phase the route's latest rollout is in, else 0.",
                                 prometheus::MetricType::Gauge,
                                 {}};
  for (const RolloutEngine::RouteGauge& g : engine.Gauges()) {
    step.metric.push_back(Gauge({{"route", g.route}}, g.step));
    for (const EnumName<Phase>& p : kPhaseNames) {
      phase.metric.push_back(Gauge({{"route", g.route}, {"phase", p.name}}, p.value == g.phase));
    }
  }
  return {std::move(step), std::move(phase)};
}

}  // namespace rollout::control
