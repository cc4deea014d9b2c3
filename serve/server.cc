#include "serve/server.h"

#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "metrics/proxy_collector.h"
#include "proxy/h2/h2_engine.h"
#include "rollout/prometheus_source.h"
#include "rollout/rollout_metrics.h"

namespace rollout::serve {
namespace {

// "HOST" of "HOST:PORT".
std::string HostOf(const std::string& listen) { return listen.substr(0, listen.rfind(':')); }

prometheus::MetricFamily Counter(std::string name, std::string help, uint64_t value) {
  prometheus::ClientMetric m;
  m.counter.value = static_cast<double>(value);
  return {std::move(name), std::move(help), prometheus::MetricType::Counter, {m}};
}

std::vector<prometheus::MetricFamily> AccessLogFamilies(const proxy::AccessLog& log) {
  const proxy::AccessLog::Counts c = log.counts();
  return {
      Counter("rollout_proxy_access_log_lines_total",
              "Access log lines handed to the writer thread.", c.lines),
      Counter("rollout_proxy_access_log_dropped_total",
              "Access log lines dropped: the writer was behind (the disk was slow).", c.dropped),
      Counter("rollout_proxy_access_log_write_errors_total",
              "Writes to the access log file that failed (their lines are lost).", c.write_errors)};
}

}  // namespace

Server::Server(const control::Config& config) : config_(config) {}

Server::~Server() = default;  // members stop in reverse order: watcher first, state last

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const control::Config& config,
                                                      std::optional<control::TokenStore> tokens) {
  std::unique_ptr<Server> s(new Server(config));
  RETURN_IF_ERROR(s->StartRollouts());
  RETURN_IF_ERROR(s->StartListeners(std::move(tokens)));
  if (config.watch_config) {
    Server* self = s.get();
    s->watcher_ = std::make_unique<ConfigWatcher>(config.source, absl::Seconds(1), [self] {
      self->Reload("file-watch", "the config file changed");
    });
  }
  return s;
}

absl::Status Server::StartRollouts() {
  ASSIGN_OR_RETURN(controller_, control::Controller::Create(config_));
  // With etcd every replica writes desired state; the engine's decisions wait for the
  // election.
  if (config_.etcd.has_value()) controller_->SetEngineLeader(false, "");
  for (const std::string& note : controller_->startup_notes()) log::Info("state: " + note);
  const int workers = config_.workers > 0
                          ? config_.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  call_metrics_ = std::make_unique<metrics::CallMetrics>(workers);
  if (config_.analysis.source == "prometheus") {
    source_ = std::make_unique<control::PrometheusSource>(config_.analysis.prometheus);
  } else if (config_.etcd.has_value()) {
    // Every replica's traffic, summed through etcd (replica_windows.h).
    auto* store = static_cast<control::EtcdStore*>(controller_->backend());
    source_ = std::make_unique<control::SharedWindowSource>(store->client(), store->prefix());
  } else {
    source_ = std::make_unique<control::InProcessSource>(call_metrics_.get());
  }
  if (!config_.webhooks.empty()) {
    notifier_ =
        std::make_unique<control::WebhookNotifier>(control::WebhookOptions{config_.webhooks});
  }
  control::RolloutEngine::Options options;
  options.source = source_.get();
  options.notifier = notifier_.get();
  options.probe = &probe_;
  options.load_tester = &load_tester_;
  ASSIGN_OR_RETURN(rollouts_, control::RolloutEngine::Create(controller_.get(), options));
  if (config_.etcd.has_value()) {
    replica_ = std::make_unique<SharedStateReplica>(
        controller_.get(), rollouts_.get(),
        static_cast<control::EtcdStore*>(controller_->backend()), config_, call_metrics_.get());
  } else {
    for (const std::string& note : rollouts_->StartDeclared(config_.rollouts)) log::Info(note);
  }
  loop_ = std::make_unique<RolloutLoop>(rollouts_.get());
  return absl::OkStatus();
}

absl::Status Server::StartListeners(std::optional<control::TokenStore> tokens) {
  proxy::EngineOptions options;
  options.listen = config_.listen;
  options.workers = call_metrics_->workers();
  options.max_message_bytes = config_.max_message_bytes;
  options.busy_poll_ns = absl::ToInt64Nanoseconds(config_.busy_poll);
  options.max_concurrent_calls = config_.max_concurrent_calls;
  options.tls = config_.tls;
  options.connections = config_.connections;
  options.resolver = config_.resolver;
  options.call_metrics = call_metrics_.get();
  options.sampler = &sampler_;
  if (config_.access_log.has_value()) {
    ASSIGN_OR_RETURN(access_log_, proxy::AccessLog::Open(*config_.access_log, options.workers));
    options.access_log = access_log_.get();
  }
  ASSIGN_OR_RETURN(engine_, proxy::h2::H2Engine::Create(options, controller_->store()));
  proxy::Engine* engine = engine_.get();
  auto health = [engine] { return engine->EndpointHealth(); };
  if (config_.metrics_listen.has_value()) {
    const control::RolloutEngine* rollouts = rollouts_.get();
    auto collector = std::make_shared<metrics::ProxyCollector>(
        call_metrics_.get(), controller_->store(), health, kVersion,
        [rollouts, engine, replica = replica_.get(), log = access_log_.get()] {
          std::vector<prometheus::MetricFamily> families = control::RolloutFamilies(*rollouts);
          if (log != nullptr) {
            for (auto& f : AccessLogFamilies(*log)) families.push_back(std::move(f));
          }
          for (auto& f : engine->listener_counters().Families()) families.push_back(std::move(f));
          if (replica != nullptr) {
            for (auto& f : replica->Families()) families.push_back(std::move(f));
          }
          return families;
        },
        [engine] { return engine->Rejected(); });
    ASSIGN_OR_RETURN(
        exporter_, metrics::MetricsExporter::Create(*config_.metrics_listen, std::move(collector)));
    std::printf("rollout-proxy %s: metrics listening on %s:%d/metrics\n", kVersion,
                HostOf(*config_.metrics_listen).c_str(), exporter_->port());
  }
  if (config_.admin.has_value()) {
    control::AdminService::ReplicaSource replicas;
    if (auto* shared = dynamic_cast<control::SharedWindowSource*>(source_.get())) {
      replicas = [shared] { return shared->Replicas(); };
    }
    const control::TokenStore dashboard_tokens = *tokens;
    admin_service_ = std::make_unique<control::AdminService>(controller_.get(), rollouts_.get(),
                                                             *std::move(tokens),
                                                             call_metrics_.get(), health, replicas);
    ASSIGN_OR_RETURN(admin_server_, AdminServer::Start(*config_.admin, admin_service_.get()));
    std::printf("rollout-proxy %s: admin listening on %s:%d\n", kVersion,
                HostOf(config_.admin->listen).c_str(), admin_server_->port());
    if (config_.dashboard_listen.has_value()) {
      ASSIGN_OR_RETURN(dashboard_, dashboard::DashboardServer::Start(
                                       *config_.dashboard_listen, admin_server_->InProcessChannel(),
                                       dashboard_tokens, call_metrics_.get()));
      std::printf("rollout-proxy %s: dashboard listening on http://%s:%d/\n", kVersion,
                  HostOf(*config_.dashboard_listen).c_str(), dashboard_->port());
    }
  }
  std::printf(
      "rollout-proxy %s: data plane listening on %s:%d (workers=%d, routes=%zu, pools=%zu)\n",
      kVersion, HostOf(config_.listen).c_str(), engine_->port(), options.workers,
      config_.table->routes().size(), config_.table->pools().size());
  std::fflush(stdout);
  return absl::OkStatus();
}

void Server::Reload(const char* actor, const char* reason) {
  absl::StatusOr<control::Controller::ReloadResult> reloaded = controller_->Reload(actor, reason);
  if (!reloaded.ok()) {
    log::Error(absl::StrCat(reason, ": ", reloaded.status().message()));
    return;
  }
  log::Info(absl::StrCat(reason, ": reloaded ", controller_->Current().config.source,
                         ": generation ", reloaded->generation,
                         reloaded->changed ? "" : " (no change)"));
  for (const std::string& note : reloaded->notes) log::Info("  " + note);
  for (const std::string& note : rollouts_->StartDeclared(controller_->Current().config.rollouts)) {
    log::Info("  " + note);
  }
}

void Server::ReopenLogs() {
  if (access_log_ == nullptr) {
    log::Info("SIGUSR1: no access log to reopen");
    return;
  }
  access_log_->Reopen();
}

void Server::Drain(int sig) {
  engine_->SetServing(false);
  if (config_.drain_delay > absl::ZeroDuration()) {
    log::Info(absl::StrCat(strsignal(sig), ": health NOT_SERVING; draining in ",
                           absl::FormatDuration(config_.drain_delay)));
    absl::SleepFor(config_.drain_delay);
  }
  watcher_.reset();  // no reload, and no rollout decision, during the drain
  loop_.reset();
  if (replica_ != nullptr) replica_->Resign();  // another replica leads at once
  log::Info(absl::StrCat(strsignal(sig), ": draining (up to ",
                         absl::FormatDuration(config_.drain_timeout), ")"));
  const absl::Time start = absl::Now();
  dashboard_.reset();  // its streams end; it calls the admin API
  if (admin_server_ != nullptr) admin_server_->Shutdown(start + absl::Seconds(1));
  engine_->Shutdown(start + config_.drain_timeout);
  log::Info(absl::StrCat("stopped after ", absl::FormatDuration(absl::Now() - start)));
}

}  // namespace rollout::serve
