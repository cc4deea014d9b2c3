// rollout-proxy: the proxy process: the command line, --check, and a serve/Server run
// until SIGTERM or SIGINT (SIGHUP reloads).
//
//   rollout-proxy --config proxy.yaml           serve until SIGTERM/SIGINT
//   rollout-proxy --config proxy.yaml --check   validate and exit (0 valid, 2 invalid)
//
// Exit codes: 0 clean exit or valid config; 1 runtime failure (cannot listen); 2 bad
// command line or bad config.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "admin/token_store.h"
#include "base/log.h"
#include "config/config_keys.h"
#include "config/config_loader.h"
#include "serve/process_signals.h"
#include "serve/server.h"

namespace {

// --check: the routes with their shares, and the declared rollouts.
void PrintSummary(const std::string& path, const rollout::control::Config& config) {
  std::printf("%s: OK (%zu pools, %zu routes)\n", path.c_str(), config.table->pools().size(),
              config.table->routes().size());
  for (const auto& route : config.table->routes()) {
    std::printf("  route %s (%s):", route.name.c_str(),
                route.method_prefix.empty() ? "all methods" : route.method_prefix.c_str());
    for (size_t i = 0; i < route.split.size(); ++i) {
      std::printf(" %s=%.4f%%", config.table->pools()[route.split.pool(i)].name.c_str(),
                  route.split.PartsPerMillion(i) / 1e4);
    }
    std::printf("\n");
  }
  // What the file sets, by how it takes effect (config_keys.h).
  std::vector<std::string> on_reload, on_restart;
  for (const rollout::control::ConfigKey& key : rollout::control::ConfigKeys()) {
    if (std::find(config.keys.begin(), config.keys.end(), key.name) == config.keys.end()) continue;
    (key.applies == rollout::control::Applies::kOnReload ? on_reload : on_restart)
        .push_back(key.name);
  }
  std::printf("  keys a reload applies: %s\n  keys a restart applies: %s\n",
              absl::StrJoin(on_reload, ", ").c_str(),
              on_restart.empty() ? "-" : absl::StrJoin(on_restart, ", ").c_str());
  for (const auto& r : config.rollouts) {
    std::string steps;
    for (double w : r.steps) steps += (steps.empty() ? "" : ",") + absl::StrCat(w);
    std::printf("  declared rollout on %s: %s %s -> %s, steps %s, interval %s, source %s\n",
                r.route.c_str(), rollout::control::StrategyName(r.strategy), r.stable.c_str(),
                r.candidate.c_str(), steps.empty() ? "-" : steps.c_str(),
                absl::FormatDuration(r.analysis.interval).c_str(), config.analysis.source.c_str());
  }
}

int Serve(const rollout::control::Config& config,
          std::optional<rollout::control::TokenStore> tokens) {
  rollout::serve::ProcessSignals signals;  // before any thread starts
  auto server = rollout::serve::Server::Start(config, std::move(tokens));
  if (!server.ok()) {
    rollout::log::Error(server.status().message());
    return 1;
  }
  for (;;) {
    const int sig = signals.Wait();
    if (sig == SIGHUP) {
      (*server)->Reload("signal", "SIGHUP");
      continue;
    }
    if (sig == SIGUSR1) {
      (*server)->ReopenLogs();
      continue;
    }
    (*server)->Drain(sig);
    return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detection on:
  // it costs gRPC's every lock a graph update (about 3% of the proxy's CPU in a profile).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"rollout-proxy: a gRPC traffic-splitting proxy for model version rollouts"};
  std::string config_path;
  bool check = false;
  app.add_option("--config,-c", config_path, "YAML config file")->required();
  app.add_flag("--check", check, "validate the config, print a summary and exit");
  app.set_version_flag("--version", rollout::serve::kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  absl::StatusOr<rollout::control::Config> config = rollout::control::LoadConfigFile(config_path);
  if (!config.ok()) {
    rollout::log::Error(absl::StrCat("invalid config: ", config.status().message()));
    return 2;
  }
  rollout::log::Configure(config->log_format, config->log_level);
  // Token file problems are config errors: refuse to start rather than run an admin API
  // nobody can use.
  std::optional<rollout::control::TokenStore> tokens;
  if (config->admin.has_value()) {
    auto loaded = rollout::control::TokenStore::LoadFile(config->admin->token_file);
    if (!loaded.ok()) {
      rollout::log::Error(
          absl::StrCat("invalid config: admin.token_file: ", loaded.status().message()));
      return 2;
    }
    tokens = *std::move(loaded);
  }
  if (check) {
    PrintSummary(config_path, *config);
    return 0;
  }
  return Serve(*config, std::move(tokens));
}
