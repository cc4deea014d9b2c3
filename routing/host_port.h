// Validation of "host:port" addresses, shared by pool endpoints and listener addresses.
//
//   ValidateHostPort("127.0.0.1:9001", PortZero::kReject)  -> OkStatus()
//   ValidateHostPort("[::1]:0", PortZero::kAllow)           -> OkStatus()  (ephemeral listen)
//   ValidateHostPort("localhost", PortZero::kReject)        -> InvalidArgument("missing :port")
#ifndef ROLLOUT_ROUTING_HOST_PORT_H_
#define ROLLOUT_ROUTING_HOST_PORT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rollout::routing {

enum class PortZero { kAllow, kReject };

// Accepts `host:port` where host is an IPv4 address, a DNS name or a bracketed IPv6 address,
// and port is 1..65535 (or 0 with PortZero::kAllow). The message says what is wrong but not
// where; callers prefix the field path.
absl::Status ValidateHostPort(absl::string_view address, PortZero port_zero);

// "host:port" cut at its last colon, an IPv6 host without its brackets; no port: "".
struct HostPort {
  std::string host;
  std::string port;
};
HostPort SplitHostPort(absl::string_view address);

// Whether `host` (no brackets) is an IPv4 or IPv6 address rather than a name.
bool IsIpAddress(const std::string& host);

// "ip:port", with an IPv6 address in brackets.
std::string JoinHostPort(const std::string& ip, absl::string_view port);

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_HOST_PORT_H_
