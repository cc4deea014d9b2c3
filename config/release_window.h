// ReleaseWindow: when a rollout's steps may advance, e.g. Monday to Friday, 02:00 to 06:00
// UTC (`window: { days: mon-fri, hours: "02:00-06:00", timezone: UTC }`). Outside it a
// rollout holds where it is; its analyses go on, and a failing candidate is still aborted.
//
// Days are a range ("mon-fri", "sat-sun", "fri-mon" wraps) or a list ("mon,wed,fri"), or
// "all". Hours are "HH:MM-HH:MM" in the window's time zone (an IANA name, or UTC); an end
// before the start crosses midnight, and belongs to the day it started on.
//
//   absl::StatusOr<ReleaseWindow> w = ReleaseWindow::Parse("mon-fri", "02:00-06:00", "UTC");
//   if (!w->Contains(now)) next = w->NextOpening(now);
//
// Thread-safety: immutable values.
#ifndef ROLLOUT_CONFIG_RELEASE_WINDOW_H_
#define ROLLOUT_CONFIG_RELEASE_WINDOW_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rollout::control {

class ReleaseWindow {
 public:
  // INVALID_ARGUMENT names the part (window.days, window.hours, window.timezone).
  static absl::StatusOr<ReleaseWindow> Parse(const std::string& days, const std::string& hours,
                                             const std::string& timezone);

  bool Contains(absl::Time t) const;
  // The next time at or after `t` when the window is open (`t` itself when it is).
  absl::Time NextOpening(absl::Time t) const;

  // "mon-fri 02:00-06:00 UTC".
  std::string ToString() const;
  nlohmann::json ToJson() const;  // {days, hours, timezone}, as given
  static absl::StatusOr<ReleaseWindow> FromJson(const nlohmann::json& j);

 private:
  std::string days_text_, hours_text_, zone_name_;
  absl::TimeZone zone_;
  unsigned days_ = 0;                      // bit d for absl::Weekday d (monday = 0)
  int start_minute_ = 0, end_minute_ = 0;  // of the day; end < start crosses midnight
};

}  // namespace rollout::control

#endif  // ROLLOUT_CONFIG_RELEASE_WINDOW_H_
