// EnumNames: one table of an enum's values and their names (in the config, the state file,
// the API and the metrics), read both ways, so that no enum has a switch per direction.
//
//   inline constexpr EnumName<Phase> kPhaseNames[] = {{Phase::kPaused, "paused"}, ...};
//   const char* name = NameOf(kPhaseNames, Phase::kPaused);          // "paused"
//   std::optional<Phase> p = ValueOf(kPhaseNames, "paused");         // Phase::kPaused
//   std::string list = NamesOf(kPhaseNames);                         // "progressing, paused, ..."
//
// Thread-safety: constant tables.
#ifndef ROLLOUT_BASE_ENUM_NAMES_H_
#define ROLLOUT_BASE_ENUM_NAMES_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace rollout {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

// The name of `value`; the table's first name if it is not listed (a table lists them all).
template <typename E, size_t N>
const char* NameOf(const EnumName<E> (&names)[N], E value) {
  for (const EnumName<E>& n : names) {
    if (n.value == value) return n.name;
  }
  return names[0].name;
}

template <typename E, size_t N>
std::optional<E> ValueOf(const EnumName<E> (&names)[N], absl::string_view name) {
  for (const EnumName<E>& n : names) {
    if (name == n.name) return n.value;
  }
  return std::nullopt;
}

// Every name, in table order, joined by ", " (for error messages).
template <typename E, size_t N>
std::string NamesOf(const EnumName<E> (&names)[N]) {
  std::string out;
  for (const EnumName<E>& n : names) {
    if (!out.empty()) out += ", ";
    out += n.name;
  }
  return out;
}

}  // namespace rollout

#endif  // ROLLOUT_BASE_ENUM_NAMES_H_
