#include "state/etcd_store.h"

#include <cinttypes>
#include <cstdio>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/log.h"

namespace rollout::control {
namespace {

std::string AuditKey(const std::string& prefix, uint64_t seq) {
  char digits[21];
  std::snprintf(digits, sizeof(digits), "%020" PRIu64, seq);
  return absl::StrCat(prefix, "audit/", digits);
}

// gRPC fails a call at once, without sending it, while it cannot connect; such a commit
// was surely not applied.
bool NeverSent(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable &&
         absl::StrContains(s.message(), "failed to connect");
}

std::string NewCommitId() {
  static absl::BitGen* gen = new absl::BitGen();
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  return absl::StrCat(absl::Hex(absl::Uniform<uint64_t>(*gen), absl::kZeroPad16),
                      absl::Hex(absl::Uniform<uint64_t>(*gen), absl::kZeroPad16));
}

void AddPut(etcdserverpb::RequestOp* op, const std::string& key, const std::string& value) {
  etcdserverpb::PutRequest* put = op->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdStore>> EtcdStore::Connect(EtcdClient::Options options,
                                                              std::string prefix) {
  auto client = EtcdClient::Create(std::move(options));
  if (!client.ok()) return client.status();
  auto audit = AuditLog::Open("");
  if (!audit.ok()) return audit.status();
  std::unique_ptr<EtcdStore> store(
      new EtcdStore(*std::move(client), std::move(prefix), *std::move(audit)));
  absl::StatusOr<int64_t> read_at = store->LoadAudit();
  if (!read_at.ok()) return store->Unreachable(read_at.status());
  return store;
}

EtcdStore::~EtcdStore() { watch_.reset(); }

absl::Status EtcdStore::Unreachable(const absl::Status& cause) const {
  if (cause.code() != absl::StatusCode::kUnavailable &&
      cause.code() != absl::StatusCode::kDeadlineExceeded) {
    return cause;
  }
  return absl::UnavailableError(absl::StrCat("the state store (etcd at ",
                                             absl::StrJoin(client_->options().endpoints, ", "),
                                             ") cannot be reached: ", cause.message()));
}

std::string EtcdStore::where() const {
  return absl::StrCat("etcd ", absl::StrJoin(client_->options().endpoints, ","), " key ",
                      state_key());
}

absl::StatusOr<int64_t> EtcdStore::LoadAudit() {
  etcdserverpb::RangeRequest range;
  range.set_key(prefix_ + "audit/");
  range.set_range_end(PrefixEnd(prefix_ + "audit/"));
  auto got = client_->Range(range);
  if (!got.ok()) return got.status();
  for (const mvccpb::KeyValue& kv : got->kvs()) {
    std::optional<AuditEntry> e = AuditEntry::FromJson(
        nlohmann::json::parse(kv.value(), nullptr, /*allow_exceptions=*/false));
    if (e.has_value()) audit_->Mirror(*std::move(e));
  }
  return got->header().revision();
}

absl::StatusOr<std::optional<PersistedState>> EtcdStore::Load() {
  etcdserverpb::RangeRequest range;
  range.set_key(state_key());
  auto got = client_->Range(range);
  if (!got.ok()) return Unreachable(got.status());
  loaded_at_ = got->header().revision();
  if (got->kvs_size() == 0) return std::optional<PersistedState>();
  const mvccpb::KeyValue& kv = got->kvs(0);
  absl::StatusOr<PersistedState> state =
      StateFromJson(kv.value(), absl::StrCat("etcd key ", state_key()));
  if (!state.ok()) return state.status();
  state->revision = kv.mod_revision();
  seen_ = std::max(seen_.load(), kv.mod_revision());
  return std::optional<PersistedState>(*std::move(state));
}

std::optional<int64_t> EtcdStore::FindLanded(const std::string& id) {
  absl::StatusOr<std::optional<int64_t>> found = FindCommit(id);
  return found.ok() ? *found : std::nullopt;
}

absl::StatusOr<std::optional<int64_t>> EtcdStore::FindCommit(const std::string& id) {
  etcdserverpb::RangeRequest range;
  range.set_key(state_key());
  auto got = client_->Range(range);
  if (!got.ok()) return got.status();
  if (got->kvs_size() == 0) return std::optional<int64_t>();
  absl::StatusOr<PersistedState> now = StateFromJson(got->kvs(0).value(), state_key());
  if (!now.ok() || now->commit_id != id) return std::optional<int64_t>();
  return std::optional<int64_t>(got->kvs(0).mod_revision());
}

absl::Status EtcdStore::Commit(PersistedState* next, const AuditEntry* entry, const Fence* fence) {
  PersistedState write = *next;
  write.commit_id = NewCommitId();
  std::optional<AuditEntry> numbered;
  if (entry != nullptr) {
    write.audit_seq = next->audit_seq + 1;
    numbered = *entry;
    numbered->seq = write.audit_seq;
  }

  etcdserverpb::TxnRequest txn;
  etcdserverpb::Compare* same = txn.add_compare();
  same->set_key(state_key());
  same->set_result(etcdserverpb::Compare::EQUAL);
  if (next->revision == 0) {
    same->set_target(etcdserverpb::Compare::CREATE);  // no state yet
    same->set_create_revision(0);
  } else {
    same->set_target(etcdserverpb::Compare::MOD);
    same->set_mod_revision(next->revision);
  }
  if (fence != nullptr) {
    etcdserverpb::Compare* leads = txn.add_compare();
    leads->set_key(fence->key);
    leads->set_result(etcdserverpb::Compare::EQUAL);
    leads->set_target(etcdserverpb::Compare::CREATE);
    leads->set_create_revision(fence->create_revision);
    txn.add_failure()->mutable_request_range()->set_key(fence->key);
  }
  AddPut(txn.add_success(), state_key(), StateToJson(write));
  if (numbered.has_value()) {
    AddPut(txn.add_success(), AuditKey(prefix_, numbered->seq), numbered->ToJson().dump());
  }

  absl::StatusOr<etcdserverpb::TxnResponse> done = client_->Txn(txn);
  std::optional<int64_t> landed;
  if (!done.ok() && NeverSent(done.status())) {
    return absl::UnavailableError(
        absl::StrCat("the change was not applied: ", Unreachable(done.status()).message()));
  }
  if (!done.ok()) {
    // The answer was lost, not necessarily the write: look before calling it failed.
    absl::StatusOr<std::optional<int64_t>> found = FindCommit(write.commit_id);
    if (!found.ok()) {
      return absl::UnavailableError(absl::StrCat("the change may not have been applied: ",
                                                 Unreachable(done.status()).message()));
    }
    if (!found->has_value()) {
      return absl::UnavailableError(
          absl::StrCat("the change was not applied: ", Unreachable(done.status()).message()));
    }
    landed = **found;
  } else if (!done->succeeded() && (landed = FindLanded(write.commit_id)).has_value()) {
    // A retry of a commit that had landed on a member whose answer was lost.
  } else if (!done->succeeded()) {
    if (fence != nullptr &&
        (done->responses_size() == 0 || done->responses(0).response_range().kvs_size() == 0 ||
         done->responses(0).response_range().kvs(0).create_revision() != fence->create_revision)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "this replica no longer leads the rollout engine (its election key ", fence->key,
          " is gone: the lease expired or it resigned); the decision was not written"));
    }
    return StoreConflict(absl::StrCat("another replica changed the state first (", state_key(),
                                      " is past revision ", next->revision, ")"));
  } else {
    landed = done->header().revision();
  }
  if (numbered.has_value()) audit_->Mirror(*std::move(numbered));
  seen_ = std::max(seen_.load(), *landed);
  write.revision = *landed;
  *next = std::move(write);
  return absl::OkStatus();
}

absl::StatusOr<std::string> EtcdStore::Quarantine() {
  etcdserverpb::RangeRequest range;
  range.set_key(state_key());
  auto got = client_->Range(range);
  if (!got.ok()) return Unreachable(got.status());
  if (got->kvs_size() == 0) return absl::NotFoundError(state_key() + " is not there");
  const std::string aside =
      absl::StrCat(state_key(), ".corrupt-", absl::ToUnixSeconds(absl::Now()));
  etcdserverpb::TxnRequest txn;
  etcdserverpb::Compare* same = txn.add_compare();
  same->set_key(state_key());
  same->set_result(etcdserverpb::Compare::EQUAL);
  same->set_target(etcdserverpb::Compare::MOD);
  same->set_mod_revision(got->kvs(0).mod_revision());
  AddPut(txn.add_success(), aside, got->kvs(0).value());
  txn.add_success()->mutable_request_delete_range()->set_key(state_key());
  auto done = client_->Txn(txn);
  if (!done.ok()) return Unreachable(done.status());
  if (!done->succeeded()) return StoreConflict(state_key() + " changed while moving it aside");
  return "etcd key " + aside;
}

void EtcdStore::Watch(std::function<void(PersistedState)> on_state) {
  on_state_ = std::move(on_state);
  watch_ = std::make_unique<EtcdWatch>(
      client_.get(), prefix_, loaded_at_.load() + 1,
      [this](const std::vector<mvccpb::Event>& events) { OnEvents(events); },
      [this]() -> absl::StatusOr<int64_t> {
        absl::StatusOr<int64_t> audit_at = LoadAudit();
        if (!audit_at.ok()) return audit_at.status();
        absl::StatusOr<std::optional<PersistedState>> now = Load();
        if (!now.ok()) return now.status();
        if (now->has_value()) on_state_(**now);
        return std::min(*audit_at, loaded_at_.load());
      });
}

void EtcdStore::OnEvents(const std::vector<mvccpb::Event>& events) {
  const std::string audit_prefix = prefix_ + "audit/";
  for (const mvccpb::Event& event : events) {
    if (event.type() != mvccpb::Event::PUT) continue;
    const mvccpb::KeyValue& kv = event.kv();
    seen_ = std::max(seen_.load(), kv.mod_revision());
    if (kv.key() == state_key()) {
      absl::StatusOr<PersistedState> state =
          StateFromJson(kv.value(), absl::StrCat("etcd key ", state_key()));
      if (!state.ok()) {
        log::Error(absl::StrCat(state.status().message(), "; keeping the last good state"));
        continue;
      }
      state->revision = kv.mod_revision();
      on_state_(*std::move(state));
    } else if (absl::StartsWith(kv.key(), audit_prefix)) {
      std::optional<AuditEntry> e = AuditEntry::FromJson(
          nlohmann::json::parse(kv.value(), nullptr, /*allow_exceptions=*/false));
      if (e.has_value()) audit_->Mirror(*std::move(e));
    }
  }
}

bool EtcdStore::connected() const { return watch_ != nullptr && watch_->connected(); }

int64_t EtcdStore::revision() const { return seen_.load(); }

}  // namespace rollout::control
