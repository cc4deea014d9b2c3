// ReleaseWindow: days, hours across midnight, time zones, and the next opening.
#include "config/release_window.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

absl::Time Utc(const std::string& text) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << err;
  return t;
}

TEST(ReleaseWindowTest, WeekdayMorningsInUtc) {
  auto w = ReleaseWindow::Parse("mon-fri", "02:00-06:00", "UTC");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->Contains(Utc("2027-01-15T02:00:00Z")));  // Friday
  EXPECT_TRUE(w->Contains(Utc("2027-01-15T05:59:59Z")));
  EXPECT_FALSE(w->Contains(Utc("2027-01-15T06:00:00Z")));  // the end is not in it
  EXPECT_FALSE(w->Contains(Utc("2027-01-16T03:00:00Z")));  // Saturday
  // From Friday 08:00, the next opening is Monday 02:00.
  EXPECT_EQ(w->NextOpening(Utc("2027-01-15T08:00:00Z")), Utc("2027-01-18T02:00:00Z"));
  EXPECT_EQ(w->NextOpening(Utc("2027-01-15T01:00:00Z")), Utc("2027-01-15T02:00:00Z"));
  EXPECT_EQ(w->NextOpening(Utc("2027-01-15T03:00:00Z")), Utc("2027-01-15T03:00:00Z"));
  EXPECT_EQ(w->ToString(), "mon-fri 02:00-06:00 UTC");
}

TEST(ReleaseWindowTest, AcrossMidnightTheMorningBelongsToTheDayBefore) {
  auto w = ReleaseWindow::Parse("fri", "22:00-02:00", "UTC");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->Contains(Utc("2027-01-15T23:00:00Z")));   // Friday night
  EXPECT_TRUE(w->Contains(Utc("2027-01-16T01:30:00Z")));   // ... into Saturday
  EXPECT_FALSE(w->Contains(Utc("2027-01-15T01:30:00Z")));  // Thursday's night is not in it
}

TEST(ReleaseWindowTest, ListsWrapsAndTimeZones) {
  auto list = ReleaseWindow::Parse("mon,wed,fri-sat", "", "");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->Contains(Utc("2027-01-16T12:00:00Z")));   // Saturday, all day
  EXPECT_FALSE(list->Contains(Utc("2027-01-17T12:00:00Z")));  // Sunday
  auto wrap = ReleaseWindow::Parse("sat-mon", "09:00-17:00", "UTC");
  ASSERT_TRUE(wrap.ok()) << wrap.status();
  EXPECT_TRUE(wrap->Contains(Utc("2027-01-17T10:00:00Z")));   // Sunday
  EXPECT_FALSE(wrap->Contains(Utc("2027-01-19T10:00:00Z")));  // Tuesday
  auto zoned = ReleaseWindow::Parse("all", "09:00-17:00", "America/New_York");
  ASSERT_TRUE(zoned.ok()) << zoned.status();
  EXPECT_FALSE(zoned->Contains(Utc("2027-01-15T13:00:00Z")));  // 08:00 in New York (EST)
  EXPECT_TRUE(zoned->Contains(Utc("2027-01-15T15:00:00Z")));   // 10:00 there
}

TEST(ReleaseWindowTest, BadPartsAreNamed) {
  EXPECT_THAT(ReleaseWindow::Parse("weekdays", "02:00-06:00", "UTC").status().message(),
              HasSubstr("window.days: \"weekdays\""));
  EXPECT_THAT(ReleaseWindow::Parse("mon", "2-6", "UTC").status().message(),
              HasSubstr("window.hours: \"2-6\""));
  EXPECT_THAT(ReleaseWindow::Parse("mon", "02:00-02:00", "UTC").status().message(),
              HasSubstr("window.hours"));
  EXPECT_THAT(ReleaseWindow::Parse("mon", "02:00-06:00", "Mars/Olympus").status().message(),
              HasSubstr("window.timezone: \"Mars/Olympus\""));
}

}  // namespace
}  // namespace rollout::control
