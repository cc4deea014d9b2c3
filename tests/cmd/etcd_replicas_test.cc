// Three rollout-proxy replicas on one real 3-member etcd cluster (state_store.etcd), all on
// loopback: writes through any replica, pushed to the others; compare-and-set under
// contention; sticky keys; and a canary judged on the traffic of all three.
#include "tests/cmd/etcd_replicas.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rollout/admin/v1/admin.grpc.pb.h"
#include "tests/support/http_get.h"

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

TEST_F(EtcdReplicasTest, TheVersionRegistryIsSharedAndItsRulesHoldOnEveryReplica) {
  std::string out;
  ASSERT_EQ(Ctl(0, {"version", "add", "v2", "--pool", "v2", "--notes", "retrained"}, &out), 0)
      << out;
  // Another replica sees it at once (pushed by the watch) and refuses a second one.
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (Ctl(1, {"--json", "version", "get", "v2"}, &out) != 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(out, AllOf(HasSubstr("\"registered_by\": \"ops\""), HasSubstr("retrained")));
  EXPECT_EQ(Ctl(2, {"version", "add", "v2", "--pool", "v2"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("ALREADY_EXISTS"));
  // Deactivated through one replica, it is refused a weight through another.
  ASSERT_TRUE(SetWeights(1, 50, 50, "v2 on").ok());
  WaitForGeneration(Generation(1));
  ASSERT_EQ(Ctl(2, {"version", "deactivate", "v2", "--reason", "CVE"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("still serves traffic"));
  ASSERT_TRUE(SetWeights(1, 100, 0, "v2 off").ok());
  ASSERT_EQ(Ctl(2, {"version", "deactivate", "v2", "--reason", "CVE"}, &out), 0) << out;
  absl::StatusOr<uint64_t> refused = SetWeights(0, 50, 50, "v2 back");
  for (int i = 0; i < 50 && refused.ok(); ++i) {  // until replica 0 has the deactivation
    absl::SleepFor(absl::Milliseconds(50));
    refused = SetWeights(0, 50, 50, "v2 back");
  }
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("is deactivated by ops"));
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

// The engine judges the calls of all three replicas, not only its own: the counts of an
// analysis equal the sum of what each replica's /metrics counted.
TEST_F(EtcdReplicasTest, ACanaryIsJudgedOnTheTrafficOfEveryReplica) {
  std::string out;
  ASSERT_EQ(Ctl(0,
                {"rollout", "start", "echo", "--stable", "v1", "--candidate", "v2", "--steps",
                 "50,100", "--interval", "6s", "--min-requests", "1", "--max-error-rate", "0.5",
                 "--reason", "judged on every replica"},
                &out),
            0)
      << out;
  WaitForGeneration(Generation(0));
  const int calls[3] = {30, 45, 60};
  for (int i = 0; i < 3; ++i) {
    auto stub = Echo::NewStub(replicas_[i]->NewChannel());
    for (int c = 0; c < calls[i]; ++c) {
      grpc::ClientContext ctx;
      EchoResponse response;
      ASSERT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
    }
  }
  int64_t metrics_v1 = 0, metrics_v2 = 0;
  for (int i = 0; i < 3; ++i) {
    metrics_v1 += MetricSum(replicas_[i]->metrics_port(),
                            "rollout_proxy_requests_total{route=\"echo\",pool=\"v1\"}");
    metrics_v2 += MetricSum(replicas_[i]->metrics_port(),
                            "rollout_proxy_requests_total{route=\"echo\",pool=\"v2\"}");
  }
  ASSERT_EQ(metrics_v1 + metrics_v2, 135);
  // The first analysis, 6 s after the start, covers every call above.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  nlohmann::json judged;
  while (judged.is_null() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
    ASSERT_EQ(Ctl(1, {"--json", "rollout", "get", "echo"}, &out), 0) << out;
    for (const auto& d : nlohmann::json::parse(out).value("decisions", nlohmann::json::array())) {
      if (d.value("kind", "") == "start") continue;
      const nlohmann::json data = nlohmann::json::parse(d.value("data_json", "{}"), nullptr, false);
      if (data.is_object() && data.contains("windows")) {
        judged = data["windows"];  // the first analysis
        break;
      }
    }
  }
  ASSERT_FALSE(judged.is_null()) << out;
  EXPECT_EQ(judged["candidate"]["requests"], metrics_v2) << judged.dump();
  EXPECT_EQ(judged["stable"]["requests"], metrics_v1) << judged.dump();
  EXPECT_EQ(judged["candidate"]["replicas"], 3) << judged.dump();
  ASSERT_EQ(Ctl(2, {"status"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("replicas judged together (3)"));
  EXPECT_THAT(out, HasSubstr("(leader)"));

  // A replica that dies drops out once its lease (2 s) expires.
  replicas_[2]->process().Signal(SIGKILL);
  const absl::Time gone_by = absl::Now() + absl::Seconds(10);
  do {
    absl::SleepFor(absl::Milliseconds(200));
    ASSERT_EQ(Ctl(0, {"status"}, &out), 0) << out;
  } while (!absl::StrContains(out, "replicas judged together (2)") && absl::Now() < gone_by);
  EXPECT_THAT(out, HasSubstr("replicas judged together (2)"));
}

// No "go to the leader": a rollout is started, paused and aborted through replicas that do
// not run the engine, and every replica sees each step.
TEST_F(EtcdReplicasTest, RolloutVerbsWorkThroughAnyReplica) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  int leader = -1;
  while ((leader = Leader()) < 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_GE(leader, 0);
  const int a = (leader + 1) % 3, b = (leader + 2) % 3;
  // Every replica names the leader (it observes the election).
  const std::string name = Routes(leader).leader();
  EXPECT_THAT(name, HasSubstr("pid "));
  while ((Routes(a).leader() != name || Routes(b).leader() != name) && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Routes(a).leader(), name);
  EXPECT_EQ(Routes(b).replica_role(), "follower");
  std::string out;
  ASSERT_EQ(
      Ctl(a,
          {"rollout", "start", "echo", "--stable", "v1", "--candidate", "v2", "--steps", "20,60",
           "--interval", "1h", "--max-error-rate", "0.05", "--reason", "through a follower"},
          &out),
      0)
      << out;
  WaitForGeneration(Generation(a));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ShareOfV2(i), 0.2) << "replica " << i;
  ASSERT_EQ(Ctl(b, {"rollout", "pause", "echo", "--reason", "hold on"}, &out), 0) << out;
  const absl::Time paused_by = absl::Now() + absl::Seconds(5);
  do {
    ASSERT_EQ(Ctl(leader, {"rollout", "get", "echo"}, &out), 0) << out;
  } while (!absl::StrContains(out, "paused") && absl::Now() < paused_by);
  EXPECT_THAT(out, HasSubstr("paused"));
  ASSERT_EQ(Ctl(a, {"rollout", "abort", "echo", "--reason", "done"}, &out), 0) << out;
  WaitForGeneration(Generation(a));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ShareOfV2(i), 0.0) << "replica " << i;
  ASSERT_EQ(Ctl(leader, {"rollout", "get", "echo"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("aborted"));
}

}  // namespace
}  // namespace rollout::testing
