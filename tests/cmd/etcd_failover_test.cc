// The rollout engine's leader among three replicas on etcd, under faults: killed with -9 in
// the middle of a canary, and paused (SIGSTOP) past its lease then resumed. Another replica
// goes on from the committed step; no step is made twice or skipped; and the old leader
// writes nothing once it has lost the lease (its writes are fenced).
#include <signal.h>

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cmd/etcd_replicas.h"

namespace rollout::testing {
namespace {

namespace v1 = ::rollout::admin::v1;

class EtcdFailoverTest : public EtcdReplicasTest {
 protected:
  void SetUp() override {
    EtcdReplicasTest::SetUp();
    for (int i = 0; i < 3; ++i) channels_[i] = replicas_[i]->NewChannel();
    // Calls through every replica, so that whichever leads sees traffic of its own.
    traffic_ = std::thread([this] {
      while (!stop_.load()) {
        for (int i = 0; i < 3 && !stop_.load(); ++i) {
          if (!alive_[i].load()) continue;
          auto stub = Echo::NewStub(channels_[i]);
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
          EchoResponse response;
          (void)stub->Unary(&ctx, EchoRequest(), &response);
        }
        absl::SleepFor(absl::Milliseconds(5));
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    traffic_.join();
  }

  // A canary of 9 steps that passes every analysis (1 s apart) while traffic flows.
  void StartCanary() {
    std::string out;
    ASSERT_EQ(Ctl(1,
                  {"rollout", "start", "echo", "--stable", "v1", "--candidate", "v2", "--steps",
                   "10,20,30,40,50,60,70,80,90", "--interval", "1s", "--min-requests", "3",
                   "--max-error-rate", "0.5", "--reason", "failover drill"},
                  &out),
              0)
        << out;
  }

  v1::Rollout Get(int i) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    v1::RolloutRequest request;
    request.set_route("echo");
    v1::Rollout response;
    EXPECT_TRUE(stubs_[i]->GetRollout(&ctx, request, &response).ok());
    return response;
  }
  // Waits for the rollout, as replica `i` sees it, to reach `step`.
  bool WaitForStep(int i, uint32_t step, absl::Duration timeout) {
    const absl::Time give_up = absl::Now() + timeout;
    while (absl::Now() < give_up) {
      if (Get(i).step() >= step) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }
  int WaitForLeader(int other_than, absl::Duration timeout) {
    const absl::Time give_up = absl::Now() + timeout;
    while (absl::Now() < give_up) {
      for (int i = 0; i < 3; ++i) {
        if (i != other_than && alive_[i].load() && Routes(i).replica_role() == "leader") return i;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return -1;
  }
  // Each step decision moves one step up from the one before: none twice, none skipped.
  void ExpectEveryStepOnce(const v1::Rollout& r) {
    uint32_t last = 1;
    for (const v1::Decision& d : r.decisions()) {
      if (d.kind() != "step") continue;
      EXPECT_EQ(d.step(), last + 1) << d.detail();
      last = d.step();
    }
    EXPECT_EQ(last, r.step());
  }

  std::atomic<bool> stop_{false};
  std::atomic<bool> alive_[3] = {true, true, true};
  std::shared_ptr<grpc::Channel> channels_[3];
  std::thread traffic_;
};

TEST_F(EtcdFailoverTest, KillingTheLeaderMidCanaryGoesOnFromTheSameStep) {
  const int leader = WaitForLeader(-1, absl::Seconds(5));
  ASSERT_GE(leader, 0);
  StartCanary();
  ASSERT_TRUE(WaitForStep(leader, 3, absl::Seconds(15))) << replicas_[leader]->Log();
  alive_[leader] = false;
  replicas_[leader]->process().Signal(SIGKILL);
  const absl::Time killed = absl::Now();
  const int next = WaitForLeader(leader, absl::Seconds(10));
  ASSERT_GE(next, 0) << "no replica took over";
  const absl::Duration failover = absl::Now() - killed;
  const uint32_t at = Get(next).step();
  ASSERT_TRUE(WaitForStep(next, at + 2, absl::Seconds(15))) << replicas_[next]->Log();
  std::printf("[ etcd ] the leader was killed at step %u; replica %d led %s later\n", at, next,
              absl::FormatDuration(failover).c_str());
  const v1::Rollout r = Get(next);
  ExpectEveryStepOnce(r);
  bool restored = false;
  for (const v1::Decision& d : r.decisions()) restored = restored || d.kind() == "restore";
  EXPECT_TRUE(restored) << "the new leader says where it goes on from";
}

TEST_F(EtcdFailoverTest, ALeaderPausedPastItsLeaseWritesNothingWhenItWakes) {
  const int leader = WaitForLeader(-1, absl::Seconds(5));
  ASSERT_GE(leader, 0);
  const std::string old_name = Routes(leader).leader();
  StartCanary();
  ASSERT_TRUE(WaitForStep(leader, 2, absl::Seconds(15)));
  alive_[leader] = false;
  replicas_[leader]->process().Signal(SIGSTOP);
  const int next = WaitForLeader(leader, absl::Seconds(10));
  ASSERT_GE(next, 0) << "no replica took over from the paused leader";
  const uint32_t at = Get(next).step();
  replicas_[leader]->process().Signal(SIGCONT);  // it still believes it leads, for a moment
  ASSERT_TRUE(WaitForStep(next, at + 3, absl::Seconds(15)));
  alive_[leader] = true;

  ExpectEveryStepOnce(Get(next));
  // One writer per step in the audit log, and none from the old leader after the new one's
  // first.
  std::map<std::string, int> writers_per_step;
  bool new_leader_wrote = false;
  for (const v1::AuditEntry& e : Audit(next)) {
    if (e.actor() != "rollout-engine") continue;
    new_leader_wrote = new_leader_wrote || e.replica() != old_name;
    if (new_leader_wrote) {
      EXPECT_NE(e.replica(), old_name) << e.reason();
    }
    if (e.verb() == "RolloutStep") ++writers_per_step[e.after()];
  }
  EXPECT_TRUE(new_leader_wrote);
  for (const auto& [after, n] : writers_per_step) EXPECT_EQ(n, 1) << after;
  EXPECT_EQ(Routes(leader).replica_role(), "follower");
  EXPECT_THAT(replicas_[leader]->Log(), ::testing::HasSubstr("this replica no longer leads"));
}

}  // namespace
}  // namespace rollout::testing
