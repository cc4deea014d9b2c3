#include "config/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "config/config_keys.h"
#include "config/yaml_reader.h"

namespace rollout::control {
namespace {

// The file through the key table (config_keys.h), in its order, then the checks that
// span keys.
absl::StatusOr<Config> ReadConfig(const Reader& in, const YAML::Node& root) {
  std::vector<absl::string_view> names;
  for (const ConfigKey& key : ConfigKeys()) names.push_back(key.name);
  RETURN_IF_ERROR(in.CheckKeys(root, "", names));
  Config config;
  for (const ConfigKey& key : ConfigKeys()) {
    const YAML::Node node = root[key.name];
    if (!node) {
      if (key.required) return in.Error(root, key.name, "missing required key");
      continue;
    }
    RETURN_IF_ERROR(key.read(in, node, &config));
    config.keys.push_back(key.name);
  }
  if (config.etcd.has_value() && !config.state_dir.empty()) {
    return in.Error(root["state_dir"], "state_dir",
                    "and state_store are two places for the same state; keep one (state_store "
                    "for replicas that share it, state_dir for one process)");
  }
  return config;
}

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text, absl::string_view source_name) {
  Reader in(source_name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  if (!root || root.IsNull()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": the config is empty"));
  }
  try {
    absl::StatusOr<Config> config = ReadConfig(in, root);
    if (config.ok()) config->source = std::string(source_name);
    return config;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open the config file"));
  }
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<Config> config = ParseConfig(text.str(), path);
  if (!config.ok()) return config;
  // Relative paths in the file are relative to the file's folder, not to the working dir.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto resolve = [&](std::string* p) {
    if (!p->empty() && p->front() != '/') *p = dir + "/" + *p;
  };
  resolve(&config->state_dir);
  if (config->admin.has_value()) resolve(&config->admin->token_file);
  if (config->access_log.has_value()) resolve(&config->access_log->path);
  return config;
}

}  // namespace rollout::control
