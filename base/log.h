// log: the project's logging seam, over spdlog. Lines go to stderr, one a line, either as
// text, "rollout-proxy: <message>" ("rollout-proxy: error: ..." for errors), or as JSON
// for shipping (log_format: json):
//   {"time":"2026-12-01T16:40:00.123Z","level":"info","logger":"rollout-proxy","msg":"..."}
// Levels below the configured one are dropped.
//
//   log::Configure(log::Format::kJson, log::Level::kInfo);   // once, at start
//   log::Info(absl::StrCat("reloaded: generation ", generation));
//   log::Error("cannot listen on " + address);
//
// Thread-safety: Configure() once, before other threads log; the rest from any thread.
#ifndef ROLLOUT_BASE_LOG_H_
#define ROLLOUT_BASE_LOG_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "base/enum_names.h"

namespace rollout::log {

enum class Format { kText, kJson };
enum class Level { kDebug, kInfo, kWarn, kError };
// The config's names.
inline constexpr EnumName<Format> kFormatNames[] = {{Format::kText, "text"},
                                                    {Format::kJson, "json"}};
inline constexpr EnumName<Level> kLevelNames[] = {{Level::kDebug, "debug"},
                                                  {Level::kInfo, "info"},
                                                  {Level::kWarn, "warn"},
                                                  {Level::kError, "error"}};
inline std::optional<Format> FormatNamed(absl::string_view name) {
  return ValueOf(kFormatNames, name);
}
inline std::optional<Level> LevelNamed(absl::string_view name) {
  return ValueOf(kLevelNames, name);
}

void Configure(Format format, Level level);

void Debug(absl::string_view message);
void Info(absl::string_view message);
void Warn(absl::string_view message);
void Error(absl::string_view message);

}  // namespace rollout::log

#endif  // ROLLOUT_BASE_LOG_H_
