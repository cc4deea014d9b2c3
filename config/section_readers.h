// The config's section readers (internal to config/): each reads one kind of node into its
// spec and checks it, with errors that name the field path. The top-level keys that use
// them are declared in config_keys.cc.
//
// Thread-safety: free functions without shared state.
#ifndef ROLLOUT_CONFIG_SECTION_READERS_H_
#define ROLLOUT_CONFIG_SECTION_READERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "config/yaml_reader.h"
#include "routing/connection_limits.h"
#include "routing/resolver_spec.h"
#include "routing/routing_table.h"
#include "routing/tls_spec.h"

namespace rollout::control {

absl::StatusOr<routing::ServerTlsSpec> ReadServerTls(const Reader& in, const YAML::Node& node,
                                                     const std::string& path);
absl::StatusOr<routing::UpstreamTlsSpec> ReadUpstreamTls(const Reader& in, const YAML::Node& node,
                                                         const std::string& path);
absl::StatusOr<routing::PoolSpec> ReadPool(const Reader& in, const YAML::Node& node,
                                           const std::string& path);
absl::StatusOr<routing::RouteSpec> ReadRoute(const Reader& in, const YAML::Node& node,
                                             const std::string& path);
// A rollouts[] entry, checked against the file's routing table.
absl::StatusOr<RolloutSpec> ReadRollout(const Reader& in, const YAML::Node& node,
                                        const std::string& path,
                                        const routing::RoutingTable& table);
absl::Status ReadAnalysis(const Reader& in, const YAML::Node& node, AnalysisConfig* out);
absl::StatusOr<routing::ConnectionLimits> ReadConnectionLimits(const Reader& in,
                                                               const YAML::Node& node);
absl::StatusOr<routing::ResolverSpec> ReadResolver(const Reader& in, const YAML::Node& node);

}  // namespace rollout::control

#endif  // ROLLOUT_CONFIG_SECTION_READERS_H_
