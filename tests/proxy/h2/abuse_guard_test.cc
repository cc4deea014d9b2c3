// AbuseGuard's counts and clocks, without sockets.
#include "proxy/h2/abuse_guard.h"

#include "gtest/gtest.h"

namespace rollout::proxy::h2 {
namespace {

constexpr int64_t kSecond = 1000 * 1000 * 1000;

routing::ConnectionLimits Limits() {
  routing::ConnectionLimits limits;
  limits.max_header_list_bytes = 1000;
  limits.idle_timeout = absl::Seconds(60);
  limits.handshake_timeout = absl::Seconds(10);
  return limits;
}

TEST(AbuseGuardTest, AHeaderBlockIsMeasuredAsRfc9113Does) {
  AbuseGuard guard(Limits(), 0);
  guard.OnHeaderBlockBegin(0);
  EXPECT_TRUE(guard.AddField(4, 500));  // 536
  EXPECT_TRUE(guard.AddField(4, 400));  // 972
  EXPECT_FALSE(guard.AddField(1, 0));   // 1005
  EXPECT_TRUE(guard.block_too_large());
  guard.OnHeaderBlockBegin(0);  // the next block starts from zero
  EXPECT_FALSE(guard.block_too_large());
  EXPECT_TRUE(guard.AddField(10, 10));
}

TEST(AbuseGuardTest, RapidResetNeedsManyStreamsMostlyResetByTheClient) {
  AbuseGuard guard(Limits(), 0);
  // A client that cancels one call in three never trips it.
  for (int i = 0; i < 3000; ++i) {
    guard.OnStreamOpened();
    if (i % 3 == 0) EXPECT_FALSE(guard.OnPrematureReset()) << i;
  }
  AbuseGuard attacker(Limits(), 0);
  int tripped_at = -1;
  for (int i = 1; i <= 1000 && tripped_at < 0; ++i) {
    attacker.OnStreamOpened();
    if (attacker.OnPrematureReset()) tripped_at = i;
  }
  EXPECT_EQ(tripped_at, static_cast<int>(AbuseGuard::kRapidResetMinStreams));
}

TEST(AbuseGuardTest, EmptyDataFramesInARowTripIt) {
  AbuseGuard guard(Limits(), 0);
  for (int i = 0; i < AbuseGuard::kMaxEmptyFrames; ++i) EXPECT_FALSE(guard.OnData(0, false));
  EXPECT_FALSE(guard.OnData(5, false));  // a real frame starts the count again
  for (int i = 0; i < AbuseGuard::kMaxEmptyFrames; ++i) EXPECT_FALSE(guard.OnData(0, false));
  EXPECT_FALSE(guard.OnData(0, true));  // END_STREAM on an empty frame is how streams end
  for (int i = 0; i < AbuseGuard::kMaxEmptyFrames; ++i) EXPECT_FALSE(guard.OnData(0, false));
  EXPECT_TRUE(guard.OnData(0, false));
}

TEST(AbuseGuardTest, ClocksRunOutInOrder) {
  AbuseGuard guard(Limits(), 0);
  EXPECT_EQ(guard.Check(5 * kSecond, false), AbuseGuard::Expired::kNone);
  EXPECT_EQ(guard.Check(11 * kSecond, false), AbuseGuard::Expired::kHandshake);
  guard.OnPreface();
  EXPECT_EQ(guard.Check(11 * kSecond, false), AbuseGuard::Expired::kNone);
  guard.OnHeaderBlockBegin(20 * kSecond);
  EXPECT_EQ(guard.Check(29 * kSecond, false), AbuseGuard::Expired::kNone);
  EXPECT_EQ(guard.Check(31 * kSecond, false), AbuseGuard::Expired::kHeader);
  guard.OnHeaderBlockEnd();
  // Idle since it opened, at 0; a call keeps it busy.
  EXPECT_EQ(guard.Check(61 * kSecond, false), AbuseGuard::Expired::kIdle);
  EXPECT_EQ(guard.Check(500 * kSecond, /*busy=*/true), AbuseGuard::Expired::kNone);
  guard.OnIdle(500 * kSecond);
  EXPECT_EQ(guard.Check(559 * kSecond, false), AbuseGuard::Expired::kNone);
  EXPECT_EQ(guard.Check(561 * kSecond, false), AbuseGuard::Expired::kIdle);
  EXPECT_EQ(guard.Check(561 * kSecond, false, 10 * kSecond), AbuseGuard::Expired::kNone);
}

TEST(AbuseGuardTest, AZeroIdleTimeoutNeverExpires) {
  routing::ConnectionLimits limits = Limits();
  limits.idle_timeout = absl::ZeroDuration();
  AbuseGuard guard(limits, 0);
  guard.OnPreface();
  EXPECT_EQ(guard.Check(1000000 * kSecond, false), AbuseGuard::Expired::kNone);
}

}  // namespace
}  // namespace rollout::proxy::h2
