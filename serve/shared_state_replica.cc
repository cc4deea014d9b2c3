#include "serve/shared_state_replica.h"

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "serve/rollout_loop.h"

namespace rollout::serve {

SharedStateReplica::SharedStateReplica(control::Controller* controller,
                                       control::RolloutEngine* engine, control::EtcdStore* store,
                                       const control::Config& config)
    : controller_(controller), engine_(engine), name_(RolloutLoop::ReplicaName(config)) {
  controller_->SetReplicaName(name_);
  controller_->SetOnAdopt([engine] { engine->Refresh(); });
  controller_->WatchBackend();
  election_ = std::make_unique<control::EtcdElection>(
      store->client(), store->prefix() + "leader", name_, config.etcd->lease_ttl,
      [this](const control::Fence& fence) { Elected(fence); },
      [this](const std::string& why) { Deposed(why); },
      [this](const std::string& leader) { controller_->SetWriter(false, leader); });
}

SharedStateReplica::~SharedStateReplica() {
  election_.reset();
  controller_->StopWatchingBackend();
  controller_->SetOnAdopt(nullptr);
}

void SharedStateReplica::Elected(const control::Fence& fence) {
  controller_->SetFence(fence);
  controller_->SetWriter(true, name_);
  if (absl::Status s = engine_->TakeOver(); !s.ok()) {
    log::Error(absl::StrCat("taking the rollouts over: ", s.message()));
  }
  for (const std::string& note : engine_->StartDeclared(controller_->Current().config.rollouts)) {
    log::Info(note);
  }
}

void SharedStateReplica::Deposed(const std::string& why) {
  controller_->SetWriter(false, election_ != nullptr ? election_->leader() : "");
  controller_->SetFence(std::nullopt);
  (void)why;  // the election logged it
}

}  // namespace rollout::serve
