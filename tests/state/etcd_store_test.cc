// The etcd store against a real etcd on loopback: commits with their audit entries,
// compare-and-set, the watch, a member's death, and an unreachable cluster.
#include "state/etcd_store.h"

#include <atomic>
#include <mutex>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/http_get.h"
#include "tests/support/test_pki.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<EtcdStore> Connect(const std::vector<std::string>& endpoints,
                                   const std::string& prefix = "/test/") {
  EtcdClient::Options options;
  options.endpoints = endpoints;
  auto store = EtcdStore::Connect(options, prefix);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

AuditEntry Entry(const std::string& reason, uint64_t generation) {
  return AuditEntry{absl::Now(), "alice", "SetWeights", "infer",
                    nullptr,     nullptr, reason,       generation};
}

PersistedState Weighted(PersistedState from, double v2) {
  from.generation += 1;
  from.overrides["infer"].split = {{"v1", 100 - v2}, {"v2", v2}};
  from.overrides["infer"].file_fingerprint = "v2|route";
  return from;
}

class EtcdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(etcd_.ok()) << etcd_.Log(0); }
  rollout::testing::EtcdCluster etcd_{1};
};

TEST_F(EtcdStoreTest, ACommitAndItsAuditEntryAreReadByAnotherReplica) {
  auto a = Connect(etcd_.endpoints());
  ASSERT_NE(a, nullptr);
  auto none = a->Load();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  PersistedState state = Weighted(PersistedState(), 5);
  const AuditEntry entry = Entry("canary to 5%", 1);
  ASSERT_TRUE(a->Commit(&state, &entry).ok());
  EXPECT_GT(state.revision, 0);
  EXPECT_EQ(state.audit_seq, 1u);
  EXPECT_EQ(a->audit().Read({}).entries.size(), 1u);

  auto b = Connect(etcd_.endpoints());
  auto loaded = b->Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value()) << loaded.status();
  EXPECT_EQ((*loaded)->generation, 1u);
  EXPECT_EQ((*loaded)->revision, state.revision);
  EXPECT_EQ((*loaded)->overrides.at("infer").split[1].weight, 5);
  const auto entries = b->audit().Read({}).entries;
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].reason, "canary to 5%");
  EXPECT_EQ(entries[0].seq, 1u);
}

TEST_F(EtcdStoreTest, AChangeFromAStaleStateIsAConflictAndChangesNothing) {
  auto a = Connect(etcd_.endpoints());
  auto b = Connect(etcd_.endpoints());
  PersistedState first = Weighted(PersistedState(), 5);
  ASSERT_TRUE(a->Commit(&first, nullptr).ok());
  PersistedState seen_by_b = **b->Load();

  PersistedState from_a = Weighted(first, 25);
  const AuditEntry a_entry = Entry("a", 2);
  ASSERT_TRUE(a->Commit(&from_a, &a_entry).ok());
  PersistedState from_b = Weighted(seen_by_b, 50);  // computed before a's change
  const AuditEntry b_entry = Entry("b", 2);
  const absl::Status lost = b->Commit(&from_b, &b_entry);
  EXPECT_TRUE(IsStoreConflict(lost)) << lost;
  EXPECT_THAT(std::string(lost.message()), HasSubstr("another replica changed the state first"));

  PersistedState now = **b->Load();
  EXPECT_EQ(now.overrides.at("infer").split[1].weight, 25);
  EXPECT_EQ(now.revision, from_a.revision);
  auto c = Connect(etcd_.endpoints());
  ASSERT_EQ(c->audit().Read({}).entries.size(), 1u) << "the losing entry was written";
  EXPECT_EQ(c->audit().Read({}).entries[0].reason, "a");
  // The second state ever written must not collide with the first's creation.
  PersistedState fresh = Weighted(PersistedState(), 1);
  EXPECT_TRUE(IsStoreConflict(b->Commit(&fresh, nullptr)));
}

TEST_F(EtcdStoreTest, TheWatchDeliversOtherWritersCommitsAndTheirAuditEntries) {
  auto a = Connect(etcd_.endpoints());
  auto b = Connect(etcd_.endpoints());
  ASSERT_TRUE(b->Load().ok());
  std::mutex mu;
  std::vector<PersistedState> seen;
  b->Watch([&](PersistedState s) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(std::move(s));
  });
  PersistedState state = Weighted(PersistedState(), 5);
  for (int i = 1; i <= 3; ++i) {
    state = Weighted(state, 10 * i);
    const AuditEntry entry = Entry(absl::StrCat("step ", i), state.generation);
    ASSERT_TRUE(a->Commit(&state, &entry).ok());
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (seen.size() == 3 && b->audit().Read({}).entries.size() == 3) break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.back().revision, state.revision);
  EXPECT_EQ(seen.back().overrides.at("infer").split[1].weight, 30);
  const auto entries = b->audit().Read({}).entries;
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].reason, "step 3");
  EXPECT_TRUE(b->connected());
}

// A replica whose watch starts from a revision etcd has compacted away reads the whole state
// again instead of missing what changed.
TEST_F(EtcdStoreTest, AWatchBehindACompactionReadsTheStateAgain) {
  auto a = Connect(etcd_.endpoints());
  auto b = Connect(etcd_.endpoints());
  ASSERT_TRUE(b->Load().ok());  // b's watch will start after this revision
  PersistedState state = Weighted(PersistedState(), 5);
  for (int i = 1; i <= 4; ++i) {
    state = Weighted(state, 10 * i);
    const AuditEntry entry = Entry(absl::StrCat("while b was away ", i), state.generation);
    ASSERT_TRUE(a->Commit(&state, &entry).ok());
  }
  std::string out;
  ASSERT_EQ(rollout::testing::RunCommand({"/usr/bin/etcdctl", "--endpoints", etcd_.endpoint(0),
                                          "compact", std::to_string(state.revision)},
                                         &out),
            0)
      << out;
  std::mutex mu;
  std::vector<PersistedState> seen;
  b->Watch([&](PersistedState s) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(std::move(s));
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!seen.empty() || absl::Now() > deadline) break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(seen.empty()) << "the compacted watch never caught up";
  EXPECT_EQ(seen.back().revision, state.revision);
  EXPECT_EQ(seen.back().overrides.at("infer").split[1].weight, 40);
  EXPECT_EQ(b->audit().Read({}).entries.size(), 4u);
}

TEST_F(EtcdStoreTest, AnUnreachableClusterIsNamed) {
  const std::string dead = absl::StrCat("127.0.0.1:", rollout::testing::UnusedPort());
  EtcdClient::Options options;
  options.endpoints = {dead};
  options.timeout = absl::Milliseconds(500);
  auto store = EtcdStore::Connect(options, "/test/");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(store.status().message()),
              HasSubstr("the state store (etcd at " + dead + ") cannot be reached"));
}

TEST(EtcdClusterStoreTest, ADeadMemberCostsARetryNotAnError) {
  rollout::testing::EtcdCluster etcd(3);
  ASSERT_TRUE(etcd.ok()) << etcd.Log(0);
  auto store = Connect(etcd.endpoints());
  ASSERT_NE(store, nullptr);
  PersistedState state = Weighted(PersistedState(), 5);
  ASSERT_TRUE(store->Commit(&state, nullptr).ok());
  etcd.Kill(0);  // the member the client uses first
  for (int i = 0; i < 5; ++i) {
    PersistedState next = Weighted(state, 10 + i);
    const absl::Status s = store->Commit(&next, nullptr);
    ASSERT_TRUE(s.ok()) << s;
    state = next;
  }
  EXPECT_NE(store->client()->endpoint(), etcd.endpoint(0));
}

// state_store.etcd.tls: TLS to the members, with a client certificate they check.
TEST(EtcdTlsStoreTest, TheStoreSpeaksTlsWithAClientCertificate) {
  rollout::testing::TestPki pki;
  ASSERT_TRUE(pki.ok()) << pki.error();
  ASSERT_TRUE(pki.Issue("etcd", "ca", "IP:127.0.0.1"));
  ASSERT_TRUE(pki.Issue("proxy", "ca", "DNS:rollout-proxy"));
  rollout::testing::EtcdCluster etcd(1, pki.dir());
  ASSERT_TRUE(etcd.ok()) << etcd.Log(0);

  EtcdClient::Options options;
  options.endpoints = etcd.endpoints();
  options.tls.enabled = true;
  options.tls.ca_file = pki.path("ca.crt");
  options.tls.cert_file = pki.path("proxy.crt");
  options.tls.key_file = pki.path("proxy.key");
  auto store = EtcdStore::Connect(options, "/tls/");
  ASSERT_TRUE(store.ok()) << store.status();
  PersistedState state = Weighted(PersistedState(), 5);
  ASSERT_TRUE((*store)->Commit(&state, nullptr).ok());
  EXPECT_EQ((*store)->Load()->value().generation, 1u);

  options.tls.cert_file.clear();  // no client certificate: the member refuses the handshake
  options.tls.key_file.clear();
  options.timeout = absl::Milliseconds(500);
  auto refused = EtcdStore::Connect(options, "/tls/");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
}

}  // namespace
}  // namespace rollout::control
