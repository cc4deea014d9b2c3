#include "routing/host_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rollout::routing {

absl::Status ValidateHostPort(absl::string_view address, PortZero port_zero) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad address \"", address, "\": ", why));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return bad("missing :port");
  absl::string_view host = address.substr(0, colon);
  absl::string_view port_text = address.substr(colon + 1);
  if (host.empty()) return bad("missing host");
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("unterminated [IPv6] host");
    for (char c : host.substr(1, host.size() - 2)) {
      if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') return bad("invalid IPv6 host");
    }
  } else {
    for (char c : host) {
      if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '_') {
        return bad(absl::StrCat("invalid character '", std::string(1, c),
                                "' in host (IPv6 hosts need [brackets])"));
      }
    }
  }
  int port = 0;
  if (port_text.empty() || !absl::SimpleAtoi(port_text, &port) ||
      !absl::ascii_isdigit(port_text.front())) {
    return bad("port is not a number");
  }
  if (port < 0 || port > 65535) return bad("port out of range 0..65535");
  if (port == 0 && port_zero == PortZero::kReject) return bad("port 0 is not a reachable port");
  return absl::OkStatus();
}

HostPort SplitHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  HostPort out;
  out.host = std::string(address.substr(0, colon));
  if (colon != absl::string_view::npos) out.port = std::string(address.substr(colon + 1));
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  return out;
}

bool IsIpAddress(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

std::string JoinHostPort(const std::string& ip, absl::string_view port) {
  return ip.find(':') != std::string::npos ? absl::StrCat("[", ip, "]:", port)
                                           : absl::StrCat(ip, ":", port);
}

}  // namespace rollout::routing
