// A small valid config for loader tests, and helpers to break it one key at a time.
#ifndef ROLLOUT_TESTS_CONFIG_VALID_CONFIG_H_
#define ROLLOUT_TESTS_CONFIG_VALID_CONFIG_H_

#include <string>

#include "config/config_loader.h"
#include "gtest/gtest.h"

namespace rollout::control {

// Two pools and two routes, every optional key left out.
inline constexpr char kValid[] = R"(
listen: 0.0.0.0:8500
workers: 2
drain_timeout: 3s
max_message_bytes: 67108864
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001", "127.0.0.1:9011"] }
  - { name: v2, endpoints: ["127.0.0.1:9002"] }
routes:
  - name: infer
    match: { method_prefix: /inference.GRPCInferenceService/ }
    split: [ { pool: v1, weight: 99.5 }, { pool: v2, weight: 0.5 } ]
  - name: rest
    split: [ { pool: v1, weight: 1 } ]
)";

// `text` with its first occurrence of `from` replaced by `to`.
inline std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at == std::string::npos) return text;
  return text.replace(at, from.size(), to);
}

// Replaces the first occurrence of `from` in the valid config with `to`.
inline std::string Variant(const std::string& from, const std::string& to) {
  return Replaced(kValid, from, to);
}

// The loader's message for a config it must refuse as INVALID_ARGUMENT.
inline std::string ErrorOf(const std::string& yaml) {
  absl::StatusOr<Config> config = ParseConfig(yaml, "proxy.yaml");
  EXPECT_FALSE(config.ok()) << "accepted:\n" << yaml;
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

}  // namespace rollout::control

#endif  // ROLLOUT_TESTS_CONFIG_VALID_CONFIG_H_
