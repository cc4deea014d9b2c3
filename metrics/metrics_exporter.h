// MetricsExporter: serves a Collectable at http://LISTEN/metrics (prometheus-cpp's Exposer).
//
//   auto exporter = MetricsExporter::Create("0.0.0.0:9500", collector);
//   int port = (*exporter)->port();   // the bound port, also with :0
//
// Thread-safety: the exporter runs its own HTTP threads; the collectable must be thread-safe.
#ifndef ROLLOUT_METRICS_METRICS_EXPORTER_H_
#define ROLLOUT_METRICS_METRICS_EXPORTER_H_

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace rollout::metrics {

class MetricsExporter final {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsExporter>> Create(
      const std::string& listen, std::shared_ptr<prometheus::Collectable> collectable);

  int port() const { return port_; }

 private:
  MetricsExporter(std::unique_ptr<prometheus::Exposer> exposer,
                  std::shared_ptr<prometheus::Collectable> collectable, int port)
      : exposer_(std::move(exposer)), collectable_(std::move(collectable)), port_(port) {}

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Collectable> collectable_;  // the exposer holds a weak_ptr
  int port_;
};

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_METRICS_EXPORTER_H_
