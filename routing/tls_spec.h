// TLS settings as the config states them: for a listener (the data plane or the admin API)
// and for the connections to a pool's backends. Paths are absolute by the time they get
// here (the loader resolves them against the config file's folder). Certificates and keys
// are PEM files, re-read from disk every `refresh_interval`, so a rotated certificate is
// used without a restart.
#ifndef ROLLOUT_ROUTING_TLS_SPEC_H_
#define ROLLOUT_ROUTING_TLS_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace rollout::routing {

// A listener that serves TLS. With client_ca_file set it is mTLS: a client certificate
// signed by that CA is required, and, if allowed_client_sans is not empty, it must carry
// one of those subject alternative names (DNS, URI, IP or email).
struct ServerTlsSpec {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // empty: no client certificate asked for
  std::vector<std::string> allowed_client_sans;
  absl::Duration refresh_interval = absl::Seconds(10);

  bool operator==(const ServerTlsSpec& o) const {
    return cert_file == o.cert_file && key_file == o.key_file &&
           client_ca_file == o.client_ca_file && allowed_client_sans == o.allowed_client_sans &&
           refresh_interval == o.refresh_interval;
  }
  bool operator!=(const ServerTlsSpec& o) const { return !(*this == o); }
};

// TLS to a pool's backends: the server certificate is checked against ca_file (empty: the
// system's roots) for server_name (empty: the endpoint's host); cert_file and key_file,
// when set, are the proxy's client certificate for backends that want mTLS.
struct UpstreamTlsSpec {
  bool enabled = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  absl::Duration refresh_interval = absl::Seconds(10);

  bool operator==(const UpstreamTlsSpec& o) const {
    return enabled == o.enabled && ca_file == o.ca_file && cert_file == o.cert_file &&
           key_file == o.key_file && server_name == o.server_name &&
           refresh_interval == o.refresh_interval;
  }
  bool operator!=(const UpstreamTlsSpec& o) const { return !(*this == o); }
};

// Checks that `path` is a readable PEM file holding `what` ("CERTIFICATE", "PRIVATE KEY").
absl::Status CheckPemFile(const std::string& path, const std::string& what);

// Checks every file a spec names; the error starts with the key ("cert_file: ...").
absl::Status CheckServerTls(const ServerTlsSpec& spec);
absl::Status CheckUpstreamTls(const UpstreamTlsSpec& spec);

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_TLS_SPEC_H_
