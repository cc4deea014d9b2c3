// Validation of "host:port" addresses, shared by pool endpoints and listener addresses.
//
//   ValidateHostPort("127.0.0.1:9001", PortZero::kReject)  -> OkStatus()
//   ValidateHostPort("[::1]:0", PortZero::kAllow)           -> OkStatus()  (ephemeral listen)
//   ValidateHostPort("localhost", PortZero::kReject)        -> InvalidArgument("missing :port")
#ifndef ROLLOUT_ROUTING_HOST_PORT_H_
#define ROLLOUT_ROUTING_HOST_PORT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rollout::routing {

enum class PortZero { kAllow, kReject };

// Accepts `host:port` where host is an IPv4 address, a DNS name or a bracketed IPv6 address,
// and port is 1..65535 (or 0 with PortZero::kAllow). The message says what is wrong but not
// where; callers prefix the field path.
absl::Status ValidateHostPort(absl::string_view address, PortZero port_zero);

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_HOST_PORT_H_
