// AccessLogSpec: the config's `access_log:` section, the proxy's log of calls.
//
//   access_log:
//     path: /var/log/rollout-proxy/access.log   # reopened on SIGUSR1 (logrotate)
//     sample: 0.01          # the share of OK calls logged (default 1)
//     sample_errors: 1      # the share of calls that did not end OK (default 1)
//     format: json          # json (one object per line) | text (key=value)
//
// Thread-safety: a plain value.
#ifndef ROLLOUT_ROUTING_ACCESS_LOG_SPEC_H_
#define ROLLOUT_ROUTING_ACCESS_LOG_SPEC_H_

#include <string>

namespace rollout::routing {

struct AccessLogSpec {
  enum class Format { kJson, kText };

  std::string path;
  double sample = 1;
  double sample_errors = 1;
  Format format = Format::kJson;

  bool operator==(const AccessLogSpec& o) const {
    return path == o.path && sample == o.sample && sample_errors == o.sample_errors &&
           format == o.format;
  }
  bool operator!=(const AccessLogSpec& o) const { return !(*this == o); }
};

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_ACCESS_LOG_SPEC_H_
