#include "serve/shared_state_replica.h"

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "serve/rollout_loop.h"

namespace rollout::serve {

SharedStateReplica::SharedStateReplica(control::Controller* controller,
                                       control::RolloutEngine* engine, control::EtcdStore* store,
                                       const control::Config& config,
                                       const metrics::CallMetrics* calls)
    : controller_(controller),
      engine_(engine),
      store_(store),
      name_(RolloutLoop::ReplicaName(config)) {
  controller_->SetReplicaName(name_);
  controller_->SetOnAdopt([engine] { engine->Refresh(); });
  controller_->WatchBackend();
  windows_ = std::make_unique<control::WindowPublisher>(store->client(), store->prefix(), name_,
                                                        calls, config.etcd->lease_ttl);
  election_ = std::make_unique<control::EtcdElection>(
      store->client(), store->prefix() + "leader", name_, config.etcd->lease_ttl,
      [this](const control::Fence& fence) { Elected(fence); },
      [this](const std::string& why) { Deposed(why); },
      [this](const std::string& leader) { controller_->SetEngineLeader(false, leader); });
}

SharedStateReplica::~SharedStateReplica() {
  Resign();
  windows_.reset();
  controller_->StopWatchingBackend();
  controller_->SetOnAdopt(nullptr);
}

void SharedStateReplica::Resign() {
  std::unique_ptr<control::EtcdElection> election;
  {
    std::lock_guard<std::mutex> lock(mu_);
    election = std::move(election_);
  }
  election.reset();  // joins its thread, outside the lock its callbacks do not take
  controller_->SetEngineLeader(false, "");
  controller_->SetFence(std::nullopt);
}

std::vector<prometheus::MetricFamily> SharedStateReplica::Families() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto gauge = [](const char* name, const char* help, double value) {
    prometheus::ClientMetric m;
    m.gauge.value = value;
    return prometheus::MetricFamily{name, help, prometheus::MetricType::Gauge, {m}};
  };
  return {gauge("rollout_proxy_state_store_connected",
                "1 while this replica follows the etcd state store (its watch is open).",
                store_->connected() ? 1 : 0),
          gauge("rollout_proxy_state_store_revision",
                "The last etcd revision of the state store this replica has seen.",
                static_cast<double>(store_->revision())),
          gauge("rollout_proxy_rollout_leader",
                "1 if this replica runs the rollout engine (it holds the etcd election).",
                election_ != nullptr && election_->leading() ? 1 : 0)};
}

void SharedStateReplica::Elected(const control::Fence& fence) {
  controller_->SetFence(fence);
  controller_->SetEngineLeader(true, name_);
  if (absl::Status s = engine_->TakeOver(); !s.ok()) {
    log::Error(absl::StrCat("taking the rollouts over: ", s.message()));
  }
  for (const std::string& note : engine_->StartDeclared(controller_->Current().config.rollouts)) {
    log::Info(note);
  }
}

void SharedStateReplica::Deposed(const std::string& why) {
  controller_->SetEngineLeader(false, "");  // the election names the next leader when it sees one
  controller_->SetFence(std::nullopt);
  (void)why;  // the election logged it
}

}  // namespace rollout::serve
