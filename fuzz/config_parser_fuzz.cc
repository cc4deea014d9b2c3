// libFuzzer target: the config parser. Any bytes must give a Config or an InvalidArgument
// that names the source, never a crash, a hang or an uncaught yaml-cpp exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<rollout::control::Config> config =
      rollout::control::ParseConfig(text, "fuzz.yaml");
  if (config.ok()) {
    if (config->table == nullptr) std::abort();  // a loaded config always routes
  } else if (config.status().code() != absl::StatusCode::kInvalidArgument ||
             config.status().message().find("fuzz.yaml") == absl::string_view::npos) {
    std::abort();  // every refusal is INVALID_ARGUMENT and names the file
  }
  return 0;
}
