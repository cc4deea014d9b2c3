// The project's two status macros, for code that returns absl::Status or absl::StatusOr.
//
//   RETURN_IF_ERROR(store.Save(state));          // returns the error, if any
//   ASSIGN_OR_RETURN(config.tls, ReadTls(node)); // assigns the value, or returns the error
//
// ASSIGN_OR_RETURN assigns to something that exists already (it is one braced statement,
// so it also stands alone after an `if`).
#ifndef ROLLOUT_BASE_STATUS_MACROS_H_
#define ROLLOUT_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RETURN_IF_ERROR(expr)                                                                 \
  do {                                                                                        \
    if (absl::Status rollout_status_ = (expr); !rollout_status_.ok()) return rollout_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr)                                      \
  {                                                                      \
    auto rollout_value_ = (expr);                                        \
    if (!rollout_value_.ok()) return std::move(rollout_value_).status(); \
    lhs = *std::move(rollout_value_);                                    \
  }

#endif  // ROLLOUT_BASE_STATUS_MACROS_H_
