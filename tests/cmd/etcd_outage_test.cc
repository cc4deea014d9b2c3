// The etcd store failing under three replicas: one member killed under load, then every
// member. Calls never fail for it; writes either land (and are never lost) or are refused
// naming the store; and once etcd is back, everything goes on without a restart.
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cmd/etcd_replicas.h"
#include "tests/support/http_get.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::rollout::admin::v1;

class EtcdOutageTest : public EtcdReplicasTest {
 protected:
  // Calls through every replica until stopped; counts the ones that failed.
  void StartTraffic() {
    traffic_ = std::thread([this] {
      std::shared_ptr<grpc::Channel> channels[3];
      for (int i = 0; i < 3; ++i) channels[i] = replicas_[i]->NewChannel();
      while (!stop_.load()) {
        for (int i = 0; i < 3; ++i) {
          auto stub = Echo::NewStub(channels[i]);
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
          EchoResponse response;
          const grpc::Status s = stub->Unary(&ctx, EchoRequest(), &response);
          calls_.fetch_add(1);
          if (!s.ok()) failed_.fetch_add(1);
        }
        absl::SleepFor(absl::Milliseconds(2));
      }
    });
  }
  void StopTraffic() {
    stop_ = true;
    traffic_.join();
  }
  int64_t Metric(int i, const std::string& name) {
    return MetricSum(replicas_[i]->metrics_port(), name);
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> calls_{0}, failed_{0};
  std::thread traffic_;
};

TEST_F(EtcdOutageTest, KillingOneMemberUnderLoadFailsNoCallAndLosesNoWrite) {
  StartTraffic();
  std::vector<std::string> landed;
  int refused = 0;
  for (int w = 0; w < 40; ++w) {
    if (w == 10) etcd_.Kill(0);
    const std::string reason = absl::StrCat("write ", w);
    absl::StatusOr<uint64_t> g = SetWeights(w % 3, 100 - w, w, reason);
    if (g.ok()) {
      landed.push_back(reason);
    } else {
      ++refused;
      EXPECT_EQ(g.status().code(), absl::StatusCode::kUnavailable) << g.status();
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  StopTraffic();
  std::printf("[ etcd ] one member killed: %d of %d calls failed; %zu writes landed, %d refused\n",
              failed_.load(), calls_.load(), landed.size(), refused);
  EXPECT_EQ(failed_.load(), 0);
  EXPECT_GE(landed.size(), 30u) << "a dead member should cost retries, not most writes";
  std::set<std::string> logged;
  for (const v1::AuditEntry& e : Audit(1)) logged.insert(e.reason());
  for (const std::string& reason : landed) EXPECT_EQ(logged.count(reason), 1u) << reason;
}

TEST_F(EtcdOutageTest, WithEveryMemberDownTrafficGoesOnWritesAreRefusedAndItAllResumes) {
  ASSERT_TRUE(SetWeights(0, 70, 30, "before the outage").ok());
  WaitForGeneration(Generation(0));
  EXPECT_EQ(Metric(1, "rollout_proxy_state_store_connected"), 1);
  StartTraffic();
  for (int m = 0; m < 3; ++m) etcd_.Kill(m);
  absl::SleepFor(absl::Seconds(1));

  absl::StatusOr<uint64_t> refused = SetWeights(1, 50, 50, "during the outage");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("the change was not applied: the state store (etcd at"));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ShareOfV2(i), 0.3) << "replica " << i;
  EXPECT_TRUE(WaitForMetric(replicas_[2]->metrics_port(), "rollout_proxy_state_store_connected", 0,
                            absl::Seconds(10)));
  const int64_t stuck_at = Metric(2, "rollout_proxy_state_store_revision");
  absl::SleepFor(absl::Seconds(3));  // past the 2 s lease: nobody leads the engine now
  EXPECT_EQ(Metric(2, "rollout_proxy_state_store_revision"), stuck_at);
  EXPECT_EQ(Leader(), -1);

  ASSERT_TRUE(etcd_.Restart({0, 1, 2})) << etcd_.Log(0);
  absl::StatusOr<uint64_t> after = absl::UnavailableError("not tried");
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (!after.ok() && absl::Now() < give_up) {
    after = SetWeights(2, 40, 60, "after the outage");
    if (!after.ok()) absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(after.ok()) << after.status();
  WaitForGeneration(*after);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ShareOfV2(i), 0.6) << "replica " << i;
  StopTraffic();
  std::printf("[ etcd ] every member down: %d of %d calls failed\n", failed_.load(), calls_.load());
  EXPECT_EQ(failed_.load(), 0);
  EXPECT_TRUE(WaitForMetric(replicas_[0]->metrics_port(), "rollout_proxy_state_store_connected", 1,
                            absl::Seconds(10)));
  const absl::Time lead_by = absl::Now() + absl::Seconds(10);
  while (Leader() < 0 && absl::Now() < lead_by) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_GE(Leader(), 0) << "a replica leads the engine again";
}

}  // namespace
}  // namespace rollout::testing
