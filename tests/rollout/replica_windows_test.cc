// SharedWindowSource against a real etcd: windows summed over the replicas' keys, and a
// replica that is behind makes the window UNAVAILABLE instead of judging part of the calls.
#include "rollout/replica_windows.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/etcd_cluster.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

class ReplicaWindowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.ok()) << etcd_.Log(0);
    auto client = EtcdClient::Create({etcd_.endpoints()});
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }

  // What a publisher writes: `calls` ok calls to infer/v2 (3 of them server errors) in each
  // of the seconds up to `last`.
  void Publish(const std::string& replica, int64_t last, uint64_t calls) {
    nlohmann::json seconds = nlohmann::json::array();
    for (int64_t t = last - 9; t <= last; ++t) {
      metrics::WindowCounts c = metrics::EmptyCounts(absl::Seconds(1));
      c.classes[0] = calls - 3;
      c.classes[3] = 3;
      c.buckets[100] = calls;
      seconds.push_back({{"t", t}, {"series", {EncodeCounts("infer", "v2", c)}}});
    }
    etcdserverpb::TxnRequest txn;
    etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
    put->set_key("/w/windows/" + replica);
    put->set_value(
        nlohmann::json({{"replica", replica}, {"seconds", seconds}, {"last", last}}).dump());
    ASSERT_TRUE(client_->Txn(txn).ok());
  }

  rollout::testing::EtcdCluster etcd_{1};
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(ReplicaWindowsTest, AWindowSumsTheReplicasAndHoldsWhileOneIsBehind) {
  SharedWindowSource source(client_.get(), "/w/");
  EXPECT_EQ(source.Window("infer", "v2", absl::Seconds(5)).status().code(),
            absl::StatusCode::kUnavailable);  // nobody has published yet
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  Publish("a", now, 10);
  Publish("b", now, 20);
  absl::StatusOr<PoolStats> both = source.Window("infer", "v2", absl::Seconds(5));
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->requests, 5u * (10 + 20));  // five whole seconds of each
  EXPECT_EQ(both->server_errors, 5u * 6);
  EXPECT_EQ(both->replicas, 2);
  ASSERT_TRUE(both->p99_seconds.has_value());

  Publish("b", now - 6, 20);  // b stopped publishing six seconds ago, its lease alive
  absl::StatusOr<PoolStats> partial = source.Window("infer", "v2", absl::Seconds(5));
  ASSERT_FALSE(partial.ok());
  EXPECT_EQ(partial.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(partial.status().message()),
              HasSubstr("replica b has published its traffic only up to"));

  auto replicas = source.Replicas();
  ASSERT_TRUE(replicas.ok());
  ASSERT_EQ(replicas->size(), 2u);
  EXPECT_EQ((*replicas)[0].replica, "a");
  EXPECT_EQ((*replicas)[1].last_second, now - 6);
}

}  // namespace
}  // namespace rollout::control
