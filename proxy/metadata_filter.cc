#include "proxy/metadata_filter.h"

#include "absl/strings/match.h"

namespace rollout::proxy {

bool IsHopByHopKey(absl::string_view key) {
  if (key.empty() || key.front() == ':') return true;
  if (absl::StartsWith(key, "grpc-")) {
    // grpc- is reserved for the library; only the tracing context crosses hops.
    return key != "grpc-trace-bin" && key != "grpc-tags-bin";
  }
  static constexpr absl::string_view kHopByHop[] = {
      "user-agent",     "te",   "connection",   "keep-alive",        "proxy-connection",
      "upgrade",        "host", "content-type", "transfer-encoding", "accept-encoding",
      "content-length",
  };
  for (absl::string_view k : kHopByHop) {
    if (key == k) return true;
  }
  return false;
}

void CopyRequestContext(const grpc::GenericServerContext& from, grpc::ClientContext* to) {
  for (const auto& [key, value] : from.client_metadata()) {
    if (!IsHopByHopKey(absl::string_view(key.data(), key.size()))) {
      to->AddMetadata(std::string(key.data(), key.size()), std::string(value.data(), value.size()));
    }
  }
  if (!from.host().empty()) to->set_authority(from.host());
}

bool IsStatusTrailerKey(absl::string_view key) {
  return key == "grpc-status" || key == "grpc-message" || key == "grpc-status-details-bin";
}

}  // namespace rollout::proxy
