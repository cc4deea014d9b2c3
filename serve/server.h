// Server: one rollout-proxy process, composed of its parts and started in order:
// the controller (state restored from state_dir or etcd), the rollout engine with its
// metric source and webhooks, with etcd the SharedStateReplica (watch, election, traffic
// windows), the RolloutLoop that runs the engine, the data plane,
// the metrics endpoint, the admin API, the dashboard and the config watcher. Each part is its own
// small object; the Server only ties them together and stops them in reverse order.
//
//   ProcessSignals signals;                       // before any thread
//   auto server = Server::Start(config, tokens);  // prints "... listening on ..." lines
//   for (;;) { int sig = signals.Wait(); if (sig == SIGHUP) (*server)->Reload(...); else ... }
//
// Thread-safety: Reload() and Drain() from the main thread; the watcher reloads from its own.
#ifndef ROLLOUT_SERVE_SERVER_H_
#define ROLLOUT_SERVE_SERVER_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "admin/admin_service.h"
#include "admin/token_store.h"
#include "config/config.h"
#include "control/controller.h"
#include "dashboard/dashboard_server.h"
#include "metrics/call_metrics.h"
#include "metrics/metrics_exporter.h"
#include "notify/webhook_notifier.h"
#include "proxy/access_log.h"
#include "proxy/engine.h"
#include "proxy/request_sampler.h"
#include "rollout/compatibility.h"
#include "rollout/load_replayer.h"
#include "rollout/metric_source.h"
#include "rollout/rollout_engine.h"
#include "serve/admin_server.h"
#include "serve/config_watcher.h"
#include "serve/rollout_loop.h"
#include "serve/shared_state_replica.h"

namespace rollout::serve {

inline constexpr char kVersion[] = "0.1.0";

class Server final {
 public:
  // `tokens` is set when the config has an admin section. An error names the part that
  // could not start.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const control::Config& config,
                                                       std::optional<control::TokenStore> tokens);
  ~Server();

  // Re-reads the config file (SIGHUP, or a change the watcher saw) and starts the rollouts
  // it declares; logs what happened.
  void Reload(const char* actor, const char* reason);
  // SIGUSR1 (logrotate): the access log is reopened at its path.
  void ReopenLogs();
  // SIGTERM or SIGINT `sig`: health NOT_SERVING for drain_delay, then the listeners close
  // and calls in flight get up to drain_timeout.
  void Drain(int sig);

  // The data plane's bound port (config `listen` may ask for port 0).
  int data_port() const { return engine_->port(); }

 private:
  explicit Server(const control::Config& config);
  absl::Status StartRollouts();
  absl::Status StartListeners(std::optional<control::TokenStore> tokens);

  const control::Config config_;
  std::unique_ptr<metrics::CallMetrics> call_metrics_;
  std::unique_ptr<control::Controller> controller_;
  std::unique_ptr<control::MetricSource> source_;
  std::unique_ptr<control::WebhookNotifier> notifier_;
  control::GrpcModelProbe probe_;  // the compatibility gate's
  // The load-test gate's: samples copied by the data plane, replayed by the tester.
  proxy::RequestSampler sampler_;
  control::GrpcLoadTester load_tester_{&sampler_};
  std::unique_ptr<control::RolloutEngine> rollouts_;
  std::unique_ptr<SharedStateReplica> replica_;  // with state_store.etcd
  std::unique_ptr<RolloutLoop> loop_;
  std::unique_ptr<proxy::AccessLog> access_log_;  // outlives the engine that writes to it
  std::unique_ptr<proxy::Engine> engine_;
  std::unique_ptr<metrics::MetricsExporter> exporter_;
  std::unique_ptr<control::AdminService> admin_service_;
  std::unique_ptr<AdminServer> admin_server_;
  std::unique_ptr<dashboard::DashboardServer> dashboard_;  // calls admin_server_ in-process
  std::unique_ptr<ConfigWatcher> watcher_;
};

}  // namespace rollout::serve

#endif  // ROLLOUT_SERVE_SERVER_H_
