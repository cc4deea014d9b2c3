// Loading and validating the YAML config.
//
// A config is accepted whole or not at all. Every error names the file, the line when the
// YAML parser knows it, the field path and what is wrong:
//
//   proxy.yaml:14: routes[0].split[1].pool: unknown pool "v3" (known pools: v1, v2)
//
//   absl::StatusOr<Config> config = LoadConfigFile("proxy.yaml");
//   if (!config.ok()) { std::cerr << config.status().message(); return 2; }
//
// Thread-safety: free functions without shared state.
#ifndef ROLLOUT_CONFIG_CONFIG_LOADER_H_
#define ROLLOUT_CONFIG_CONFIG_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/config.h"

namespace rollout::control {

absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// `source_name` is used in messages in place of a file name.
absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text, absl::string_view source_name);

}  // namespace rollout::control

#endif  // ROLLOUT_CONFIG_CONFIG_LOADER_H_
