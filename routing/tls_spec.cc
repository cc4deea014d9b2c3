#include "routing/tls_spec.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace rollout::routing {
namespace {

absl::Status CheckKey(const std::string& key, const std::string& path, const std::string& what) {
  absl::Status s = CheckPemFile(path, what);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", s.message()));
}

}  // namespace

absl::Status CheckPemFile(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read \"", path, "\""));
  std::stringstream text;
  text << in.rdbuf();
  const std::string pem = text.str();
  if (pem.find("-----BEGIN ") == std::string::npos ||
      pem.find(what + "-----") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" holds no PEM ", what));
  }
  return absl::OkStatus();
}

absl::Status CheckServerTls(const ServerTlsSpec& spec) {
  if (absl::Status s = CheckKey("cert_file", spec.cert_file, "CERTIFICATE"); !s.ok()) return s;
  if (absl::Status s = CheckKey("key_file", spec.key_file, "PRIVATE KEY"); !s.ok()) return s;
  if (spec.client_ca_file.empty()) {
    if (!spec.allowed_client_sans.empty()) {
      return absl::InvalidArgumentError(
          "allowed_client_sans: needs client_ca_file (client certificates are only asked for "
          "with a CA to check them)");
    }
    return absl::OkStatus();
  }
  return CheckKey("client_ca_file", spec.client_ca_file, "CERTIFICATE");
}

absl::Status CheckUpstreamTls(const UpstreamTlsSpec& spec) {
  if (!spec.ca_file.empty()) {
    if (absl::Status s = CheckKey("ca_file", spec.ca_file, "CERTIFICATE"); !s.ok()) return s;
  }
  if (spec.cert_file.empty() != spec.key_file.empty()) {
    return absl::InvalidArgumentError("cert_file and key_file: set both or neither");
  }
  if (!spec.cert_file.empty()) {
    if (absl::Status s = CheckKey("cert_file", spec.cert_file, "CERTIFICATE"); !s.ok()) return s;
    return CheckKey("key_file", spec.key_file, "PRIVATE KEY");
  }
  return absl::OkStatus();
}

}  // namespace rollout::routing
