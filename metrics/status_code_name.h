// Canonical names of gRPC status codes (OK, CANCELLED, ..., UNAUTHENTICATED), used as the
// bounded `grpc_code` label and in reports. Codes outside 0..16 map to "UNKNOWN_CODE".
#ifndef ROLLOUT_METRICS_STATUS_CODE_NAME_H_
#define ROLLOUT_METRICS_STATUS_CODE_NAME_H_

namespace rollout::metrics {

inline const char* StatusCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN_CODE";
}

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_STATUS_CODE_NAME_H_
