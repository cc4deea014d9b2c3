// rollout-proxy: the data plane process.
//
//   rollout-proxy --config proxy.yaml           serve until SIGTERM/SIGINT
//   rollout-proxy --config proxy.yaml --check   validate and exit (0 valid, 2 invalid)
//
// Exit codes: 0 clean exit or valid config; 1 runtime failure (cannot listen); 2 bad
// command line or bad config.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "admin/admin_service.h"
#include "admin/token_store.h"
#include "config/config_loader.h"
#include "control/controller.h"
#include "metrics/call_metrics.h"
#include "metrics/metrics_exporter.h"
#include "metrics/proxy_collector.h"
#include "notify/webhook_notifier.h"
#include "proxy/h2/h2_engine.h"
#include "proxy/tls_credentials.h"
#include "rollout/metric_source.h"
#include "rollout/prometheus_source.h"
#include "rollout/rollout_engine.h"
#include "rollout/rollout_metrics.h"
#include "routing/routing_table_store.h"
#include "state/leader_lock.h"

namespace {

constexpr char kVersion[] = "0.1.0";

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Re-reads the config file (SIGHUP, or a change seen by watch_config) and starts the
// rollouts it declares; prints what happened.
void Reload(rollout::control::Controller& controller, rollout::control::RolloutEngine& engine,
            const char* actor, const char* reason) {
  auto reloaded = controller.Reload(actor, reason);
  if (!reloaded.ok()) {
    std::fprintf(stderr, "rollout-proxy: %s: %s\n", reason,
                 std::string(reloaded.status().message()).c_str());
    return;
  }
  std::fprintf(stderr, "rollout-proxy: %s: reloaded %s: generation %llu%s\n", reason,
               controller.Current().config.source.c_str(),
               static_cast<unsigned long long>(reloaded->generation),
               reloaded->changed ? "" : " (no change)");
  for (const std::string& note : reloaded->notes) {
    std::fprintf(stderr, "rollout-proxy:   %s\n", note.c_str());
  }
  for (const std::string& note : engine.StartDeclared(controller.Current().config.rollouts)) {
    std::fprintf(stderr, "rollout-proxy:   %s\n", note.c_str());
  }
}

int Serve(const rollout::control::Config& config,
          std::optional<rollout::control::TokenStore> tokens) {
  // Signals are taken synchronously by this thread only, so every worker thread started
  // below inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // OpenSSL writes to its sockets with write(), not send(MSG_NOSIGNAL): a client that goes
  // away during a TLS handshake would otherwise kill the proxy with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  // Each client connection holds a descriptor: take the hard limit, as Go's runtime and
  // nginx's worker_rlimit_nofile do, so that connections.max_connections bounds them.
  if (rlimit nofile{};
      getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  // Replicas sharing state_dir: the one holding the leader lock writes; the others follow.
  std::unique_ptr<rollout::control::LeaderLock> leader_lock;
  bool writer = true;
  if (config.shared_state) {
    mkdir(config.state_dir.c_str(), 0750);
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    leader_lock = std::make_unique<rollout::control::LeaderLock>(
        config.state_dir,
        absl::StrCat("pid ", getpid(), " on ", host,
                     config.admin.has_value() ? ", admin " + config.admin->listen : ""));
    writer = leader_lock->TryAcquire();
    std::fprintf(stderr, "rollout-proxy: shared state_dir: %s\n",
                 writer ? "this replica leads" : "following the leader");
  }
  auto controller = rollout::control::Controller::Create(config, writer);
  if (!controller.ok()) {
    std::cerr << "rollout-proxy: error: " << controller.status().message() << "\n";
    return 1;
  }
  if (!writer) (*controller)->SetWriter(false, leader_lock->Holder());
  for (const std::string& note : (*controller)->startup_notes()) {
    std::fprintf(stderr, "rollout-proxy: state: %s\n", note.c_str());
  }
  const rollout::routing::RoutingTableStore& store = *(*controller)->store();
  rollout::proxy::EngineOptions options;
  options.listen = config.listen;
  options.workers = config.workers > 0
                        ? config.workers
                        : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.max_message_bytes = config.max_message_bytes;
  options.max_concurrent_calls = config.max_concurrent_calls;
  options.tls = config.tls;
  options.connections = config.connections;
  options.resolver = config.resolver;
  rollout::metrics::CallMetrics call_metrics(options.workers);
  options.call_metrics = &call_metrics;

  // The rollout engine: its metric source, its webhooks, and a thread that runs its due
  // analyses. Its records were restored with the controller's state.
  std::unique_ptr<rollout::control::MetricSource> source;
  if (config.analysis.source == "prometheus") {
    source = std::make_unique<rollout::control::PrometheusSource>(config.analysis.prometheus);
  } else {
    source = std::make_unique<rollout::control::InProcessSource>(&call_metrics);
  }
  std::unique_ptr<rollout::control::WebhookNotifier> notifier;
  if (!config.webhooks.empty()) {
    notifier = std::make_unique<rollout::control::WebhookNotifier>(
        rollout::control::WebhookOptions{config.webhooks});
  }
  rollout::control::RolloutEngine::Options engine_options;
  engine_options.source = source.get();
  engine_options.notifier = notifier.get();
  auto rollouts = rollout::control::RolloutEngine::Create(controller->get(), engine_options);
  if (!rollouts.ok()) {
    std::cerr << "rollout-proxy: error: " << rollouts.status().message() << "\n";
    return 1;
  }
  rollout::control::RolloutEngine& engine_ref = **rollouts;
  for (const std::string& note : engine_ref.StartDeclared(config.rollouts)) {
    std::fprintf(stderr, "rollout-proxy: %s\n", note.c_str());
  }
  std::atomic<bool> stopping{false};
  std::thread ticker([&] {
    int beat = 0;
    while (!stopping.load()) {
      if (leader_lock != nullptr && !leader_lock->held()) {
        // Follow the leader's state; take over if its lock is free (it died or stopped).
        if ((*controller)->Sync()) engine_ref.Refresh();
        if (leader_lock->TryAcquire()) {
          (*controller)->Sync();
          (*controller)->SetWriter(true, "");
          if (absl::Status s = engine_ref.TakeOver(); !s.ok()) {
            std::fprintf(stderr, "rollout-proxy: taking over: %s\n",
                         std::string(s.message()).c_str());
          }
          std::fprintf(stderr, "rollout-proxy: shared state_dir: this replica leads now\n");
        } else if (++beat % 20 == 0) {
          (*controller)->SetWriter(false, leader_lock->Holder());
        }
      }
      engine_ref.Tick();
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
  struct JoinOnExit {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~JoinOnExit() {
      stop = true;
      thread.join();
    }
  } join_ticker{stopping, ticker};
  absl::StatusOr<std::unique_ptr<rollout::proxy::Engine>> engine =
      rollout::proxy::h2::H2Engine::Create(options, &store);
  if (!engine.ok()) {
    std::cerr << "rollout-proxy: error: " << engine.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<rollout::metrics::MetricsExporter> exporter;
  if (config.metrics_listen.has_value()) {
    rollout::proxy::Engine* engine_ptr = engine->get();
    auto collector = std::make_shared<rollout::metrics::ProxyCollector>(
        &call_metrics, &store, [engine_ptr] { return engine_ptr->EndpointHealth(); }, kVersion,
        [&engine_ref, engine_ptr] {
          std::vector<prometheus::MetricFamily> families =
              rollout::control::RolloutFamilies(engine_ref);
          for (auto& f : engine_ptr->listener_counters().Families()) {
            families.push_back(std::move(f));
          }
          return families;
        },
        [engine_ptr] { return engine_ptr->Rejected(); });
    auto created = rollout::metrics::MetricsExporter::Create(*config.metrics_listen, collector);
    if (!created.ok()) {
      std::cerr << "rollout-proxy: error: " << created.status().message() << "\n";
      (*engine)->Shutdown(absl::Now());
      return 1;
    }
    exporter = *std::move(created);
    const std::string& m = *config.metrics_listen;
    std::printf("rollout-proxy %s: metrics listening on %s:%d/metrics\n", kVersion,
                m.substr(0, m.rfind(':')).c_str(), exporter->port());
  }
  std::unique_ptr<rollout::control::AdminService> admin_service;
  std::unique_ptr<grpc::Server> admin_server;
  if (config.admin.has_value()) {
    rollout::proxy::Engine* engine_ptr = engine->get();
    admin_service = std::make_unique<rollout::control::AdminService>(
        controller->get(), &engine_ref, *std::move(tokens), &call_metrics,
        [engine_ptr] { return engine_ptr->EndpointHealth(); });
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    int port = 0;
    builder.AddListeningPort(config.admin->listen,
                             config.admin->tls.has_value()
                                 ? rollout::proxy::ServerCredentials(*config.admin->tls)
                                 : grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(admin_service.get());
    admin_server = builder.BuildAndStart();
    if (admin_server == nullptr || port == 0) {
      std::cerr << "rollout-proxy: error: cannot listen on " << config.admin->listen
                << " (admin.listen)\n";
      (*engine)->Shutdown(absl::Now());
      return 1;
    }
    const std::string& a = config.admin->listen;
    std::printf("rollout-proxy %s: admin listening on %s:%d\n", kVersion,
                a.substr(0, a.rfind(':')).c_str(), port);
  }
  const std::string host = config.listen.substr(0, config.listen.rfind(':'));
  std::printf(
      "rollout-proxy %s: data plane listening on %s:%d (workers=%d, routes=%zu, pools=%zu)\n",
      kVersion, host.c_str(), (*engine)->port(), options.workers, config.table->routes().size(),
      config.table->pools().size());
  std::fflush(stdout);

  // watch_config: a ConfigMap update replaces the mounted file (a symlink swap), so compare
  // the content, not the inode or the time, once a second; a change reloads like SIGHUP.
  std::thread watcher;
  if (config.watch_config) {
    watcher = std::thread([&] {
      std::string last = ReadWholeFile(config.source);
      while (!stopping.load()) {
        absl::SleepFor(absl::Seconds(1));
        std::string now = ReadWholeFile(config.source);
        if (now.empty() || now == last) continue;
        last = std::move(now);
        Reload(**controller, engine_ref, "file-watch", "the config file changed");
      }
    });
  }
  struct JoinWatcher {
    std::thread& thread;
    ~JoinWatcher() {
      if (thread.joinable()) thread.join();
    }
  } join_watcher{watcher};

  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      Reload(**controller, engine_ref, "signal", "SIGHUP");
      continue;
    }
    (*engine)->SetServing(false);
    if (config.drain_delay > absl::ZeroDuration()) {
      std::fprintf(stderr, "rollout-proxy: %s: health NOT_SERVING; draining in %s\n",
                   strsignal(sig), absl::FormatDuration(config.drain_delay).c_str());
      absl::SleepFor(config.drain_delay);
    }
    stopping = true;

    std::fprintf(stderr, "rollout-proxy: %s: draining (up to %s)\n", strsignal(sig),
                 absl::FormatDuration(config.drain_timeout).c_str());
    const absl::Time start = absl::Now();
    if (admin_server != nullptr)
      admin_server->Shutdown(absl::ToChronoTime(start + absl::Seconds(1)));
    (*engine)->Shutdown(start + config.drain_timeout);
    std::fprintf(stderr, "rollout-proxy: stopped after %s\n",
                 absl::FormatDuration(absl::Now() - start).c_str());
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
  app.set_version_flag("--version", kVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  absl::StatusOr<rollout::control::Config> config = rollout::control::LoadConfigFile(config_path);
  if (!config.ok()) {
    std::cerr << "rollout-proxy: invalid config: " << config.status().message() << "\n";
    return 2;
  }
  // Token file problems are config errors: refuse to start rather than run an admin API
  // nobody can use.
  std::optional<rollout::control::TokenStore> tokens;
  if (config->admin.has_value()) {
    auto loaded = rollout::control::TokenStore::LoadFile(config->admin->token_file);
    if (!loaded.ok()) {
      std::cerr << "rollout-proxy: invalid config: admin.token_file: " << loaded.status().message()
                << "\n";
      return 2;
    }
    tokens = *std::move(loaded);
  }
  if (check) {
    std::printf("%s: OK (%zu pools, %zu routes)\n", config_path.c_str(),
                config->table->pools().size(), config->table->routes().size());
    for (const auto& route : config->table->routes()) {
      std::printf("  route %s (%s):", route.name.c_str(),
                  route.method_prefix.empty() ? "all methods" : route.method_prefix.c_str());
      for (size_t i = 0; i < route.split.size(); ++i) {
        std::printf(" %s=%.4f%%", config->table->pools()[route.split.pool(i)].name.c_str(),
                    route.split.PartsPerMillion(i) / 1e4);
      }
      std::printf("\n");
    }
    for (const auto& r : config->rollouts) {
      std::string steps;
      for (double w : r.steps) steps += (steps.empty() ? "" : ",") + absl::StrCat(w);
      std::printf("  declared rollout on %s: %s %s -> %s, steps %s, interval %s, source %s\n",
                  r.route.c_str(), rollout::control::StrategyName(r.strategy), r.stable.c_str(),
                  r.candidate.c_str(), steps.empty() ? "-" : steps.c_str(),
                  absl::FormatDuration(r.analysis.interval).c_str(),
                  config->analysis.source.c_str());
    }
    return 0;
  }
  return Serve(*config, std::move(tokens));
}
