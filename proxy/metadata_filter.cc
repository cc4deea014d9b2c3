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

bool IsStatusTrailerKey(absl::string_view key) {
  return key == "grpc-status" || key == "grpc-message" || key == "grpc-status-details-bin";
}

}  // namespace rollout::proxy
