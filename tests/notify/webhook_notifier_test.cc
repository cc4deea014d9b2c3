// WebhookNotifier against a real HTTP server on loopback: delivery, retries with backoff,
// and a dead receiver that never holds up the caller.
#include "notify/webhook_notifier.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/http_get.h"
#include "tests/support/http_receiver.h"

namespace rollout::control {
namespace {

using ::rollout::testing::HttpReceiver;

TEST(WebhookNotifierTest, PostsEachEventAsJsonInOrder) {
  HttpReceiver hooks;
  {
    WebhookNotifier notifier({{hooks.url()}});
    notifier.Notify({{"event", "RolloutStart"}, {"release", 1}});
    notifier.Notify({{"event", "RolloutPromote"}, {"release", 1}});
    const std::vector<std::string> bodies = hooks.WaitFor(2, absl::Seconds(10));
    ASSERT_EQ(bodies.size(), 2u);
    EXPECT_EQ(nlohmann::json::parse(bodies[0])["event"], "RolloutStart");
    EXPECT_EQ(nlohmann::json::parse(bodies[1])["event"], "RolloutPromote");
    // The receiver records a body before the sender has read the answer: wait for it.
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (notifier.counts().delivered < 2 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_EQ(notifier.counts().delivered, 2u);
  }
}

TEST(WebhookNotifierTest, RetriesWithBackoffUntilTheReceiverAccepts) {
  HttpReceiver hooks(/*fail_first=*/2);
  WebhookOptions options{{hooks.url()}};
  options.first_backoff = absl::Milliseconds(50);
  WebhookNotifier notifier(options);
  const absl::Time start = absl::Now();
  notifier.Notify({{"event", "RolloutAbort"}});
  const std::vector<std::string> bodies = hooks.WaitFor(1, absl::Seconds(10));
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(hooks.requests(), 3);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));  // 50 ms, then 100 ms
  EXPECT_EQ(notifier.counts().retried, 2u);                 // counted before each retry's wait
}

TEST(WebhookNotifierTest, ADeadReceiverNeverBlocksTheCaller) {
  WebhookOptions options{{"http://127.0.0.1:" + std::to_string(testing::UnusedPort()) + "/x"}};
  options.first_backoff = absl::Milliseconds(10);
  options.max_attempts = 3;
  WebhookNotifier notifier(options);
  const absl::Time start = absl::Now();
  for (int i = 0; i < 50; ++i) notifier.Notify({{"event", "RolloutHold"}, {"i", i}});
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (notifier.counts().failed < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_GE(notifier.counts().failed, 1u);
}

}  // namespace
}  // namespace rollout::control
