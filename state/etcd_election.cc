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
}

EtcdElection::~EtcdElection() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
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
  absl::StatusOr<v3electionpb::LeaderResponse> now = client_->Leader(name_);
  // NOT_FOUND: nobody leads (etcd's "election: no leader").
  if (!now.ok() && now.status().code() != absl::StatusCode::kNotFound) return;
  const std::string seen = now.ok() ? now->kv().value() : "";
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seen == leader_) return;
    leader_ = seen;
  }
  if (on_leader_) on_leader_(seen);
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    key_.reset();
    lease = lease_;
    lease_ = 0;
    leader_.clear();
  }
  (void)client_->LeaseRevoke(lease);  // if it still lives, its key must go now
  log::Warn(absl::StrCat("leader election: this replica no longer leads: ", why));
  on_deposed_(why);
}

}  // namespace rollout::control
