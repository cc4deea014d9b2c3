#include "config/release_window.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rollout::control {
namespace {

constexpr const char* kDayNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int DayIndex(absl::string_view name) {
  for (int d = 0; d < 7; ++d) {
    if (name == kDayNames[d]) return d;
  }
  return -1;
}

int WeekdayIndex(absl::Weekday w) {
  switch (w) {
    case absl::Weekday::monday:
      return 0;
    case absl::Weekday::tuesday:
      return 1;
    case absl::Weekday::wednesday:
      return 2;
    case absl::Weekday::thursday:
      return 3;
    case absl::Weekday::friday:
      return 4;
    case absl::Weekday::saturday:
      return 5;
    case absl::Weekday::sunday:
      return 6;
  }
  return 0;
}

// "HH:MM" -> minutes of the day, or -1.
int Minutes(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  int h = 0, m = 0;
  if (parts.size() != 2 || parts[0].size() != 2 || parts[1].size() != 2 ||
      !absl::SimpleAtoi(parts[0], &h) || !absl::SimpleAtoi(parts[1], &m) || h < 0 || h > 24 ||
      m < 0 || m > 59 || (h == 24 && m != 0)) {
    return -1;
  }
  return h * 60 + m;
}

}  // namespace

absl::StatusOr<ReleaseWindow> ReleaseWindow::Parse(const std::string& days,
                                                   const std::string& hours,
                                                   const std::string& timezone) {
  ReleaseWindow w;
  w.days_text_ = absl::AsciiStrToLower(days.empty() ? "all" : days);
  w.hours_text_ = hours.empty() ? "00:00-24:00" : hours;
  w.zone_name_ = timezone.empty() ? "UTC" : timezone;
  if (w.days_text_ == "all" || w.days_text_ == "*") {
    w.days_ = 0x7f;
  } else {
    for (absl::string_view part : absl::StrSplit(w.days_text_, ',')) {
      std::vector<absl::string_view> range = absl::StrSplit(part, '-');
      const int from = DayIndex(range[0]);
      const int to = range.size() == 2 ? DayIndex(range[1]) : from;
      if (range.size() > 2 || from < 0 || to < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "window.days: \"", days, "\" is not a day range or list like mon-fri or mon,wed,fri"));
      }
      for (int d = from;; d = (d + 1) % 7) {
        w.days_ |= 1u << d;
        if (d == to) break;
      }
    }
  }
  std::vector<absl::string_view> span = absl::StrSplit(w.hours_text_, '-');
  if (span.size() != 2 || Minutes(span[0]) < 0 || Minutes(span[1]) < 0 ||
      Minutes(span[0]) == Minutes(span[1])) {
    return absl::InvalidArgumentError(
        absl::StrCat("window.hours: \"", hours, "\" is not a span like 02:00-06:00"));
  }
  w.start_minute_ = Minutes(span[0]);
  w.end_minute_ = Minutes(span[1]);
  if (!absl::LoadTimeZone(w.zone_name_, &w.zone_)) {
    return absl::InvalidArgumentError(absl::StrCat("window.timezone: \"", timezone,
                                                   "\" is not a time zone (UTC, or an IANA name)"));
  }
  return w;
}

bool ReleaseWindow::Contains(absl::Time t) const {
  const absl::TimeZone::CivilInfo c = zone_.At(t);
  const int minute = c.cs.hour() * 60 + c.cs.minute();
  const int today = WeekdayIndex(absl::GetWeekday(c.cs));
  if (start_minute_ < end_minute_) {
    return (days_ >> today & 1) && minute >= start_minute_ && minute < end_minute_;
  }
  // Across midnight: the evening part is today's, the morning part yesterday's.
  const int yesterday = (today + 6) % 7;
  return ((days_ >> today & 1) && minute >= start_minute_) ||
         ((days_ >> yesterday & 1) && minute < end_minute_);
}

absl::Time ReleaseWindow::NextOpening(absl::Time t) const {
  if (Contains(t)) return t;
  const absl::CivilDay day = absl::CivilDay(zone_.At(t).cs);
  for (int ahead = 0; ahead <= 8; ++ahead) {
    const absl::CivilDay d = day + ahead;
    if (!(days_ >> WeekdayIndex(absl::GetWeekday(d)) & 1)) continue;
    const absl::Time open = absl::FromCivil(absl::CivilMinute(d) + start_minute_, zone_);
    if (open >= t) return open;
  }
  return absl::InfiniteFuture();  // no day at all: Parse refuses that
}

std::string ReleaseWindow::ToString() const {
  return absl::StrCat(days_text_, " ", hours_text_, " ", zone_name_);
}

nlohmann::json ReleaseWindow::ToJson() const {
  return {{"days", days_text_}, {"hours", hours_text_}, {"timezone", zone_name_}};
}

absl::StatusOr<ReleaseWindow> ReleaseWindow::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("window: not an object");
  return Parse(j.value("days", ""), j.value("hours", ""), j.value("timezone", ""));
}

}  // namespace rollout::control
