// The approval gate end to end: a webhook that approves, one that denies, one that never
// answers (the release holds, then aborts at the gate's timeout), and a person's sign-off
// with rolloutctl rollout approve. Real processes: the proxy, demo-model-servers, a webhook
// receiver, rolloutctl.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cmd/release_fixture.h"
#include "tests/support/http_receiver.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class ApprovalGateTest : public ReleaseProcessTest {
 protected:
  std::vector<std::string> Start(std::vector<std::string> extra, std::string* out) {
    std::vector<std::string> args = {"rollout",
                                     "start",
                                     "infer",
                                     "--stable",
                                     "v1",
                                     "--candidate",
                                     "v2",
                                     "--steps",
                                     "50",
                                     "--interval",
                                     "1s",
                                     "--min-requests",
                                     "20",
                                     "--max-error-rate",
                                     "0.05",
                                     "--notes",
                                     "retrained on May data"};
    args.insert(args.end(), extra.begin(), extra.end());
    code_ = Ctl(args, out);
    return args;
  }
  // The canary's calls over half a second.
  int CanaryCalls(InferenceLoad* load) {
    load->Take();
    absl::SleepFor(absl::Milliseconds(500));
    auto served = load->Take();
    return served["canary"][true] + served["canary"][false];
  }

  HttpReceiver hooks_;
  int code_ = -1;
};

TEST_F(ApprovalGateTest, AWebhookThatApprovesLetsTheReleaseGoOnAndIsRecorded) {
  RegisterVersions();
  std::string out;
  hooks_.SetReply(R"({"approved": true, "reason": "scan clean"})");
  Start({"--approval-webhook", hooks_.url()}, &out);
  ASSERT_EQ(code_, 0) << out;
  EXPECT_THAT(out, HasSubstr("gates: compatibility passed, approval passed"));
  const nlohmann::json r = Rollout();
  EXPECT_EQ(r["phase"], "progressing");
  ASSERT_EQ(r["gates"].size(), 2u);
  EXPECT_EQ(r["gates"][1]["by"], hooks_.url());
  EXPECT_EQ(r["gates"][1]["detail"], "approved by " + hooks_.url() + ": scan clean");
  // The approver was sent what it needs to judge: the versions, the artifact, the notes.
  const std::vector<std::string> bodies = hooks_.WaitFor(1, absl::Seconds(2));
  ASSERT_EQ(bodies.size(), 1u);
  const nlohmann::json sent = nlohmann::json::parse(bodies[0]);
  EXPECT_EQ(sent["event"], "RolloutApproval");
  EXPECT_EQ(sent["candidate"]["version"], "v2");
  EXPECT_EQ(sent["candidate"]["artifact"], "file:///models/classifier/v2");
  EXPECT_EQ(sent["notes"], "retrained on May data");
  EXPECT_EQ(sent["started_by"], "release-bot");
}

TEST_F(ApprovalGateTest, AWebhookThatDeniesRefusesTheReleaseWithItsReason) {
  RegisterVersions();
  InferenceLoad load(proxy_->address());
  hooks_.SetReply(R"({"approved": false, "reason": "CVE-2026-1234 in the image"})");
  std::string out;
  Start({"--approval-webhook", hooks_.url()}, &out);
  EXPECT_EQ(code_, 1) << out;
  EXPECT_THAT(out, HasSubstr("FAILED_PRECONDITION: denied by " + hooks_.url() +
                             ": CVE-2026-1234 in the image (recorded as release #1, aborted)"));
  EXPECT_EQ(Rollout()["outcome_reason"], "refused at the approval gate: denied by " + hooks_.url() +
                                             ": CVE-2026-1234 in the image");
  EXPECT_EQ(CanaryCalls(&load), 0);
}

TEST_F(ApprovalGateTest, NoAnswerHoldsWithNoTrafficThenAbortsAtTheTimeout) {
  RegisterVersions();
  InferenceLoad load(proxy_->address());
  hooks_.SetReply("");  // 200 with no verdict: not an answer
  std::string out;
  Start({"--approval-webhook", hooks_.url(), "--approval-timeout", "3s"}, &out);
  ASSERT_EQ(code_, 0) << out;
  nlohmann::json r = Rollout();
  EXPECT_EQ(r["phase"], "gating");
  EXPECT_THAT(r["gates"][1]["detail"].get<std::string>(),
              HasSubstr("no {\"approved\": true|false} in its answer"));
  EXPECT_EQ(CanaryCalls(&load), 0);
  const absl::Time give_up = absl::Now() + absl::Seconds(8);
  while (Rollout()["outcome"] == "in_progress" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  r = Rollout();
  EXPECT_EQ(r["outcome"], "aborted");
  EXPECT_THAT(r["outcome_reason"].get<std::string>(),
              HasSubstr("aborted at the approval gate: no approval within 3s"));
  EXPECT_GE(hooks_.requests(), 2) << "asked again each interval";
  EXPECT_EQ(CanaryCalls(&load), 0);
}

TEST_F(ApprovalGateTest, APersonSignsOffWithRolloutApprove) {
  RegisterVersions();
  InferenceLoad load(proxy_->address());
  std::string out;
  Start({"--approval"}, &out);
  ASSERT_EQ(code_, 0) << out;
  EXPECT_THAT(out, HasSubstr("waiting for a sign-off: rolloutctl rollout approve infer"));
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(Rollout()["phase"], "gating");
  EXPECT_EQ(CanaryCalls(&load), 0);
  EXPECT_EQ(Ctl({"rollout", "approve", "infer", "--reason", "looks fine"}, &out, viewer_), 1);
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));
  ASSERT_EQ(Ctl({"rollout", "approve", "infer", "--reason", "security review RS-42 done"}, &out), 0)
      << out;
  const nlohmann::json r = Rollout();
  EXPECT_EQ(r["phase"], "progressing");
  EXPECT_EQ(r["gates"][1]["by"], "release-bot");
  EXPECT_EQ(r["gates"][1]["detail"], "approved by release-bot: security review RS-42 done");
  EXPECT_GT(CanaryCalls(&load), 20);
  EXPECT_EQ(Ctl({"rollout", "approve", "infer"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("has no approval waiting"));
  ASSERT_EQ(Ctl({"audit", "--json", "--route", "infer"}, &out, viewer_), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("RolloutGate"), HasSubstr("security review RS-42 done")));
}

}  // namespace
}  // namespace rollout::testing
