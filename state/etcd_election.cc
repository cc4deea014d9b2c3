#include "state/etcd_election.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"

namespace rollout::control {

EtcdElection::EtcdElection(EtcdClient* client, std::string name, std::string value,
                           absl::Duration ttl, OnElected on_elected, OnDeposed on_deposed,
                           OnLeader on_leader)
    : client_(client),
      name_(std::move(name)),
      value_(std::move(value)),
      ttl_(ttl),
      on_elected_(std::move(on_elected)),
      on_deposed_(std::move(on_deposed)),
      on_leader_(std::move(on_leader)) {
  thread_ = std::thread([this] { Run(); });
  observer_ = std::thread([this] { Observe(); });
}

EtcdElection::~EtcdElection() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (observing_ != nullptr) observing_->TryCancel();
  }
  wake_.notify_all();
  observer_.join();
  thread_.join();
}

void EtcdElection::Observe() {
  for (;;) {
    grpc::ClientContext ctx;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      observing_ = &ctx;
    }
    const grpc::Status end = client_->Observe(
        name_, &ctx, [this](const v3electionpb::LeaderResponse& r) { SawLeader(r.kv().value()); });
    {
      std::lock_guard<std::mutex> lock(mu_);
      observing_ = nullptr;
    }
    // Ended: the member died, or nobody leads yet (etcd ends the stream then).
    if (end.error_code() == grpc::StatusCode::UNAVAILABLE) client_->Failover();
    if (!Wait(absl::Milliseconds(200))) return;
  }
}

void EtcdElection::SawLeader(const std::string& leader) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed_ = leader;
    if (key_.has_value() || leader == leader_) return;  // leading: Campaign set it
    leader_ = leader;
  }
  if (on_leader_) on_leader_(leader);
}

bool EtcdElection::leading() const {
  std::lock_guard<std::mutex> lock(mu_);
  return key_.has_value();
}

std::optional<Fence> EtcdElection::fence() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!key_.has_value()) return std::nullopt;
  return Fence{key_->key(), key_->rev()};
}

std::string EtcdElection::leader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leader_;
}

bool EtcdElection::Wait(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !wake_.wait_for(lock, absl::ToChronoMilliseconds(d), [this] { return stopping_; });
}

void EtcdElection::Run() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    if (leading()) {
      Renew();
    } else {
      Campaign();
    }
  }
  // A clean stop hands over at once instead of after the lease's ttl.
  std::optional<v3electionpb::LeaderKey> key;
  int64_t lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    key = key_;
    lease = lease_;
    key_.reset();
  }
  if (key.has_value()) (void)client_->Resign(*key);
  if (lease != 0) (void)client_->LeaseRevoke(lease);
}

void EtcdElection::Campaign() {
  int64_t lease;
  absl::Time renewed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = lease_;
    renewed = renewed_;
  }
  if (lease == 0) {
    absl::StatusOr<etcdserverpb::LeaseGrantResponse> granted = client_->LeaseGrant(ttl_);
    if (!granted.ok()) {
      log::Warn(absl::StrCat("leader election: no lease: ", granted.status().message()));
      Wait(absl::Milliseconds(500));
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    lease = lease_ = granted->id();
    renewed = renewed_ = absl::Now();
  }
  if (absl::Now() - renewed >= ttl_ / 3) {
    absl::StatusOr<absl::Duration> left = client_->LeaseKeepAlive(lease);
    std::lock_guard<std::mutex> lock(mu_);
    if (left.ok()) {
      renewed_ = absl::Now();
    } else if (left.status().code() == absl::StatusCode::kNotFound) {
      lease_ = 0;  // expired while waiting (a pause): campaign on a new one
      return;
    }
  }
  absl::StatusOr<v3electionpb::CampaignResponse> won =
      client_->Campaign(name_, lease, value_, std::min(ttl_ / 3, absl::Seconds(1)));
  if (won.ok()) {
    const Fence fence{won->leader().key(), won->leader().rev()};
    {
      std::lock_guard<std::mutex> lock(mu_);
      key_ = won->leader();
      leader_ = value_;
    }
    log::Info(absl::StrCat("leader election: this replica leads (", value_, ")"));
    on_elected_(fence);
    return;
  }
  if (won.status().code() != absl::StatusCode::kDeadlineExceeded) {
    log::Warn(absl::StrCat("leader election: ", won.status().message()));
    Wait(absl::Milliseconds(500));
  }
}

void EtcdElection::Renew() {
  if (!Wait(ttl_ / 3)) return;
  int64_t lease;
  absl::Time renewed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = lease_;
    renewed = renewed_;
  }
  if (absl::Now() - renewed >= ttl_) {
    StepDown(absl::StrCat("no lease renewal for ", absl::FormatDuration(absl::Now() - renewed),
                          " (ttl ", absl::FormatDuration(ttl_), ")"));
    return;
  }
  absl::StatusOr<absl::Duration> left = client_->LeaseKeepAlive(lease);
  if (left.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    renewed_ = absl::Now();
  } else if (left.status().code() == absl::StatusCode::kNotFound) {
    StepDown("its lease expired");
  }
}

void EtcdElection::StepDown(const std::string& why) {
  int64_t lease;
  std::string successor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    key_.reset();
    lease = lease_;
    lease_ = 0;
    leader_ = observed_ == value_ ? "" : observed_;
    successor = leader_;
  }
  (void)client_->LeaseRevoke(lease);  // if it still lives, its key must go now
  log::Warn(absl::StrCat("leader election: this replica no longer leads: ", why));
  on_deposed_(why);
  if (!successor.empty() && on_leader_) on_leader_(successor);  // seen while it still led
}

}  // namespace rollout::control
