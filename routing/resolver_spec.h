// ResolverSpec: how backend host names are resolved, as the config's `resolver:` section
// states it. Names are looked up off the data path (proxy/name_resolver.h), in /etc/hosts
// and then DNS, and looked up again every refresh_interval (sooner if the records' TTL is
// shorter, never more often than once a second); every address a name has becomes an
// endpoint of its pool.
//
//   resolver:
//     servers: ["10.0.0.2", "10.0.0.3:5353"]   # default: those of /etc/resolv.conf
//     refresh_interval: 30s
//
// Thread-safety: a plain value.
#ifndef ROLLOUT_ROUTING_RESOLVER_SPEC_H_
#define ROLLOUT_ROUTING_RESOLVER_SPEC_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace rollout::routing {

struct ResolverSpec {
  std::vector<std::string> servers;  // ip or ip:port; empty: the system's
  absl::Duration refresh_interval = absl::Seconds(30);

  bool operator==(const ResolverSpec& o) const {
    return servers == o.servers && refresh_interval == o.refresh_interval;
  }
  bool operator!=(const ResolverSpec& o) const { return !(*this == o); }
};

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_RESOLVER_SPEC_H_
