// InflatePrefix: the start of a compressed gRPC message (grpc-encoding gzip or deflate),
// decompressed only as far as the proxy needs to read it (model_name, for routing). The
// message itself is forwarded compressed, unchanged.
//
//   std::string out;
//   bool complete;
//   switch (InflatePrefix("gzip", bytes_so_far, all_in, 1027, &out, &complete)) { ... }
//
// Thread-safety: a pure function.
#ifndef ROLLOUT_PROXY_H2_MESSAGE_INFLATER_H_
#define ROLLOUT_PROXY_H2_MESSAGE_INFLATER_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace rollout::proxy::h2 {

enum class InflateResult {
  kOk,           // *out holds max_out bytes, or the whole message (*complete)
  kNeedMore,     // `compressed` ends before either: wait for more of the message
  kUnsupported,  // an encoding other than gzip and deflate
  kCorrupt,      // not valid for its encoding
};

// Decompresses the start of a message whose compressed bytes begin `compressed`;
// `all_in` says that `compressed` is the whole (compressed) message. "deflate" is the zlib
// format (RFC 1950), as gRPC sends it; "gzip" is RFC 1952.
InflateResult InflatePrefix(absl::string_view encoding, absl::string_view compressed, bool all_in,
                            size_t max_out, std::string* out, bool* complete);

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_MESSAGE_INFLATER_H_
