// ConnectionLimits: the bounds the data listener puts on each client connection and on all
// of them, as the config's `connections:` section states them. A client may be hostile: each
// bound caps the memory or the time one connection can hold, so that no client can starve
// the others (see proxy/h2/abuse_guard.h for how they are enforced).
//
//   connections:
//     max_connections: 10000          # client connections over all workers
//     max_concurrent_streams: 100     # per connection (SETTINGS_MAX_CONCURRENT_STREAMS)
//     max_header_list_bytes: 16384    # per header block (SETTINGS_MAX_HEADER_LIST_SIZE)
//     idle_timeout: 5m                # a connection with no call is closed (GOAWAY)
//     handshake_timeout: 10s          # for the HTTP/2 preface, and for any one header block
//
// Thread-safety: a plain value.
#ifndef ROLLOUT_ROUTING_CONNECTION_LIMITS_H_
#define ROLLOUT_ROUTING_CONNECTION_LIMITS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace rollout::routing {

struct ConnectionLimits {
  // Past it, a new connection is closed at once; gRPC's own servers accept any number.
  int64_t max_connections = 10000;
  // Envoy's and nghttpx's default for a client-facing listener.
  uint32_t max_concurrent_streams = 100;
  // gRPC's hard limit for received metadata (GRPC_ARG_ABSOLUTE_MAX_METADATA_SIZE), so that
  // a backend never tears down a shared connection over a header block the proxy let by.
  // Counted as RFC 9113 does: name + value + 32 bytes per field.
  uint32_t max_header_list_bytes = 16384;
  absl::Duration idle_timeout = absl::Minutes(5);
  absl::Duration handshake_timeout = absl::Seconds(10);

  bool operator==(const ConnectionLimits& o) const {
    return max_connections == o.max_connections &&
           max_concurrent_streams == o.max_concurrent_streams &&
           max_header_list_bytes == o.max_header_list_bytes && idle_timeout == o.idle_timeout &&
           handshake_timeout == o.handshake_timeout;
  }
  bool operator!=(const ConnectionLimits& o) const { return !(*this == o); }
};

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_CONNECTION_LIMITS_H_
