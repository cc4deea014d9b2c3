#include "metrics/metrics_exporter.h"

#include <exception>

#include "absl/strings/str_cat.h"

namespace rollout::metrics {

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Create(
    const std::string& listen, std::shared_ptr<prometheus::Collectable> collectable) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {  // civetweb reports a bind failure by throwing; it stops here
    exposer = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty())
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen));
  exposer->RegisterCollectable(collectable);
  return std::unique_ptr<MetricsExporter>(
      new MetricsExporter(std::move(exposer), std::move(collectable), ports.front()));
}

}  // namespace rollout::metrics
