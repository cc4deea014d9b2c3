// Three rollout-proxy replicas on loopback sharing one state_dir: one leader writes, the
// followers apply what it wrote, the same sticky key lands on the same pool through any of
// them, and killing the leader with -9 loses nothing: another replica takes over.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kSecret[] = "replica-admin-secret-0123456789";

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("admin.tokens", absl::StrCat("ops admin ", kSecret, "\n"));
    token_ = dir_.WriteFile("ops.token", kSecret);
    for (int i = 0; i < 3; ++i) Start(i);
  }

  void Start(int i) {
    replicas_[i].reset();
    replicas_[i] = std::make_unique<ProxyProcess>(absl::StrReplaceAll(
        R"(
listen: 127.0.0.1:0
workers: 1
admin: { listen: 127.0.0.1:0, token_file: @DIR@/admin.tokens }
state_dir: @DIR@/shared
shared_state: true
pools:
  - { name: v1, endpoints: ["@V1@"] }
  - { name: v2, endpoints: ["@V2@"] }
routes:
  - name: echo
    sticky_key: x-user
    split: [ { pool: v1, weight: 50 }, { pool: v2, weight: 50 } ]
)",
        {{"@DIR@", dir_.path()}, {"@V1@", v1_.address()}, {"@V2@", v2_.address()}}));
    ASSERT_TRUE(replicas_[i]->ok()) << replicas_[i]->Log();
  }

  nlohmann::json Routes(int i) {
    std::string out;
    RunCommand({kRolloutctlBin, "--admin", replicas_[i]->admin_address(), "--token-file", token_,
                "--json", "routes"},
               &out);
    return nlohmann::json::parse(out, nullptr, false);
  }
  int Leader() {
    for (int i = 0; i < 3; ++i) {
      if (replicas_[i] != nullptr && Routes(i)["replica_role"] == "leader") return i;
    }
    return -1;
  }
  double ShareOfV2(int i) {
    const nlohmann::json routes = Routes(i);
    if (routes.is_discarded()) return -1;
    for (const auto& w : routes["routes"][0]["split"]) {
      if (w["pool"] == "v2") return w["share"].get<double>();
    }
    return -1;
  }
  int Ctl(int i, std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {kRolloutctlBin, "--admin", replicas_[i]->admin_address(),
                                     "--token-file", token_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out);
  }
  std::string PoolFor(int i, const std::string& user) {
    auto stub = Echo::NewStub(replicas_[i]->NewChannel());
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-user", user);
    EchoResponse response;
    EXPECT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
    return response.backend();
  }

  TempDir dir_;
  EchoBackend v1_{"v1"}, v2_{"v2"};
  std::string token_;
  std::unique_ptr<ProxyProcess> replicas_[3];
};

TEST_F(ReplicasTest, OneLeaderWritesAndEveryReplicaFollowsWithinABound) {
  const int leader = Leader();
  ASSERT_EQ(leader, 0) << "the first replica to start leads";
  std::string out;
  EXPECT_EQ(Ctl(1, {"set-weight", "echo", "v1=10", "v2=90", "--reason", "via a follower"}, &out),
            1);
  EXPECT_THAT(out, HasSubstr("FAILED_PRECONDITION: this replica follows the leader"));
  EXPECT_THAT(out, HasSubstr("admin 127.0.0.1:0"));  // who leads, as it wrote it

  const absl::Time set = absl::Now();
  ASSERT_EQ(Ctl(leader, {"set-weight", "echo", "v1=10", "v2=90", "--reason", "canary"}, &out), 0)
      << out;
  absl::Duration slowest;
  for (int i = 0; i < 3; ++i) {
    while (ShareOfV2(i) != 0.9 && absl::Now() - set < absl::Seconds(5)) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    EXPECT_EQ(ShareOfV2(i), 0.9) << "replica " << i;
    slowest = std::max(slowest, absl::Now() - set);
  }
  // Followers poll the shared state every 100 ms; with rolloutctl's own time per check,
  // every replica has the change well within a second.
  EXPECT_LT(slowest, absl::Seconds(1));
  std::printf("[ replicas ] a weight change reached all 3 replicas in %s\n",
              absl::FormatDuration(slowest).c_str());
  // The audit log is the leader's, read through any replica.
  ASSERT_EQ(Ctl(2, {"audit"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("\"canary\""));
}

TEST_F(ReplicasTest, TheSameStickyKeyLandsOnTheSamePoolThroughAnyReplica) {
  for (int user = 0; user < 40; ++user) {
    const std::string key = "user-" + std::to_string(user);
    const std::string pool = PoolFor(0, key);
    EXPECT_EQ(PoolFor(1, key), pool) << key;
    EXPECT_EQ(PoolFor(2, key), pool) << key;
  }
}

TEST_F(ReplicasTest, KillingTheLeaderLosesNothingAndAnotherTakesOver) {
  std::string out;
  ASSERT_EQ(Ctl(0, {"set-weight", "echo", "v1=25", "v2=75", "--reason", "before the crash"}, &out),
            0)
      << out;
  ASSERT_EQ(Ctl(0,
                {"rollout", "start", "echo", "--stable", "v1", "--candidate", "v2", "--steps",
                 "80,90", "--interval", "1h", "--reason", "in flight during the crash"},
                &out),
            0)
      << out;
  replicas_[0]->process().Signal(SIGKILL);
  ASSERT_TRUE(replicas_[0]->process().WaitForExit(absl::Seconds(5)).has_value());
  replicas_[0].reset();
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  int leader = -1;
  while ((leader = Leader()) < 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_GT(leader, 0) << "no replica took over";
  EXPECT_EQ(ShareOfV2(leader), 0.8);  // the rollout's step 1, from the shared state
  ASSERT_EQ(Ctl(leader, {"rollout", "get", "echo"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("progressing, step 1/2"));
  EXPECT_THAT(out, HasSubstr("restore"));  // taken over where it was
  ASSERT_EQ(Ctl(leader, {"rollout", "abort", "echo", "--reason", "drill"}, &out), 0) << out;
  EXPECT_EQ(ShareOfV2(leader), 0.0);
  ASSERT_EQ(Ctl(leader, {"set-weight", "echo", "v1=0", "v2=1", "--reason", "after"}, &out), 0)
      << out;
  const int follower = leader == 1 ? 2 : 1;
  const absl::Time set = absl::Now();
  while (ShareOfV2(follower) != 1.0 && absl::Now() - set < absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(ShareOfV2(follower), 1.0);
  // The old leader comes back as a follower.
  Start(0);
  EXPECT_EQ(Routes(0)["replica_role"], "follower");
  EXPECT_EQ(ShareOfV2(0), 1.0);
}

}  // namespace
}  // namespace rollout::testing
