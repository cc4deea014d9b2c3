#include "base/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace rollout::log {
namespace {

constexpr char kName[] = "rollout-proxy";
constexpr char kTextPattern[] = "rollout-proxy: %v";

// {"time","level","logger","msg"}, one object a line.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const absl::Time t = absl::FromChrono(msg.time);
    const nlohmann::json line = {
        {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone())},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"logger", kName},
        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

spdlog::logger& Logger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto l =
        std::make_shared<spdlog::logger>(kName, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern(kTextPattern);
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::debug);  // every line, as the fprintf it replaces did
    return l;
  }();
  return *logger;
}

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::atomic<Format> g_format{Format::kText};

void Write(spdlog::level::level_enum level, absl::string_view message) {
  if (g_format.load(std::memory_order_relaxed) == Format::kText && level >= spdlog::level::warn) {
    // In text, errors and warnings say so; JSON has its own "level".
    const std::string line =
        absl::StrCat(level == spdlog::level::warn ? "warning: " : "error: ", message);
    Logger().log(level, spdlog::string_view_t(line.data(), line.size()));
    return;
  }
  Logger().log(level, spdlog::string_view_t(message.data(), message.size()));
}

}  // namespace

void Configure(Format format, Level level) {
  spdlog::logger& logger = Logger();
  g_format.store(format, std::memory_order_relaxed);
  if (format == Format::kJson) {
    logger.set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger.set_formatter(std::make_unique<spdlog::pattern_formatter>(kTextPattern));
  }
  logger.set_level(ToSpd(level));
}

void Debug(absl::string_view message) { Write(spdlog::level::debug, message); }
void Info(absl::string_view message) { Write(spdlog::level::info, message); }
void Warn(absl::string_view message) { Write(spdlog::level::warn, message); }
void Error(absl::string_view message) { Write(spdlog::level::err, message); }

}  // namespace rollout::log
