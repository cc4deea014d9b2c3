// Three rollout-proxy replicas on one real 3-member etcd cluster (state_store.etcd), all on
// loopback: writes through any replica, pushed to the others; compare-and-set under
// contention; sticky keys; and the rollout engine's leader killed, or paused past its lease.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rollout/admin/v1/admin.grpc.pb.h"
#include "tests/cmd/etcd_replicas.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::rollout::admin::v1;

TEST_F(EtcdReplicasTest, AWriteThroughAnyReplicaIsPushedToTheOthers) {
  std::vector<absl::Duration> lags;
  for (int i = 0; i < 30; ++i) {
    const int writer = i % 3;
    absl::StatusOr<uint64_t> g = SetWeights(writer, 100 - i, i, absl::StrCat("change ", i));
    ASSERT_TRUE(g.ok()) << g.status();
    const absl::Time set = absl::Now();
    for (int r = 0; r < 3; ++r) {
      if (r == writer) continue;
      while (Generation(r) < *g && absl::Now() - set < absl::Seconds(5)) {
        absl::SleepFor(absl::Microseconds(500));
      }
      ASSERT_GE(Generation(r), *g) << "replica " << r << " never saw generation " << *g;
      lags.push_back(absl::Now() - set);
    }
  }
  std::sort(lags.begin(), lags.end());
  const absl::Duration p50 = lags[lags.size() / 2];
  const absl::Duration p99 = lags[lags.size() * 99 / 100];
  std::printf("[ etcd ] a change reached the other replicas in p50 %s, p99 %s (%zu samples)\n",
              absl::FormatDuration(p50).c_str(), absl::FormatDuration(p99).c_str(), lags.size());
  EXPECT_LT(p50, absl::Milliseconds(100));
  EXPECT_LT(p99, absl::Milliseconds(500));  // a sanitizer build on 2 shared cores included
  EXPECT_EQ(ShareOfV2(2), 29.0 / 100);
  // One audit log, whoever wrote: each entry names its replica.
  const std::vector<v1::AuditEntry> audit = Audit(1);
  ASSERT_EQ(audit.size(), 30u);
  EXPECT_EQ(audit.back().reason(), "change 29");
  EXPECT_THAT(audit.back().replica(), HasSubstr("pid "));
}

TEST_F(EtcdReplicasTest, TheSameStickyKeyLandsOnTheSamePoolThroughEachReplica) {
  ASSERT_TRUE(SetWeights(0, 50, 50, "half").ok());
  WaitForGeneration(Generation(0));
  for (int user = 0; user < 40; ++user) {
    const std::string key = "user-" + std::to_string(user);
    const std::string pool = PoolFor(0, key);
    EXPECT_EQ(PoolFor(1, key), pool) << key;
    EXPECT_EQ(PoolFor(2, key), pool) << key;
  }
}

// 1,000 compare-and-set writes from 6 clients over the 3 replicas: every generation has
// exactly one winner, and every win is in the state and the audit log.
TEST_F(EtcdReplicasTest, ConcurrentCompareAndSetHasOneWinnerPerGenerationAndLosesNothing) {
  const uint64_t start = Generation(0);
  std::atomic<int> attempts{0}, wins{0}, stale{0}, other{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      while (attempts.fetch_add(1) < 1000) {
        const int replica = (c + attempts.load()) % 3;
        const uint64_t seen = Generation(replica);
        absl::StatusOr<uint64_t> g =
            SetWeights(replica, 50, 50, absl::StrCat("cas from client ", c), seen);
        if (g.ok()) {
          wins.fetch_add(1);
        } else if (g.status().code() == absl::StatusCode::kAborted) {
          stale.fetch_add(1);
        } else {
          other.fetch_add(1);
          ADD_FAILURE() << g.status();
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  std::printf("[ etcd ] 1000 compare-and-set writes: %d won, %d stale, %d other\n", wins.load(),
              stale.load(), other.load());
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(wins.load(), 0);
  WaitForGeneration(start + wins.load());
  EXPECT_EQ(Generation(0), start + wins.load()) << "a win was lost, or a loss applied";
  std::set<uint64_t> generations;
  for (const v1::AuditEntry& e : Audit(2)) {
    EXPECT_TRUE(generations.insert(e.generation()).second) << "two winners of " << e.generation();
  }
  EXPECT_EQ(generations.size(), static_cast<size_t>(wins.load()));
}

}  // namespace
}  // namespace rollout::testing
