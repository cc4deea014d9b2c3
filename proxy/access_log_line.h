// AccessLogLine: one call's line of the access log, in JSON (one object per line) or text
// (key=value pairs, logfmt). Values a client chose (the method, x-request-id, traceparent)
// are escaped and cut to kMaxClientField bytes, so a hostile client cannot break a line
// or make one huge.
//
//   {"time":"2026-12-02T07:19:31.123Z","route":"infer","pool":"v2",
//    "endpoint":"10.0.0.7:8001","method":"/inference.GRPCInferenceService/ModelInfer",
//    "grpc_status":"OK","grpc_code":0,"duration_ms":1.234,"bytes_received":120,
//    "bytes_sent":96,"retries":0,"request_id":"abc","traceparent":"00-...-01"}
//
// A call the proxy refused before choosing a pool has empty route, pool or endpoint.
// Fields a call has not (request_id, traceparent) are left out.
//
// Thread-safety: plain functions.
#ifndef ROLLOUT_PROXY_ACCESS_LOG_LINE_H_
#define ROLLOUT_PROXY_ACCESS_LOG_LINE_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "routing/access_log_spec.h"

namespace rollout::proxy {

struct AccessLogEntry {
  int64_t start_unix_ns = 0;  // wall clock: the request headers were in
  absl::string_view route, pool, endpoint, method;
  int grpc_code = 0;
  int64_t duration_ns = 0;
  uint64_t bytes_received = 0;                // request message bytes from the client
  uint64_t bytes_sent = 0;                    // the backend's response bytes, for the client
  int retries = 0;                            // endpoints tried again after one was unreachable
  absl::string_view request_id, traceparent;  // empty: the client sent none
};

inline constexpr size_t kMaxClientField = 256;

// Appends the entry's line, with its newline, to `out`.
void AppendAccessLogLine(const AccessLogEntry& entry, routing::AccessLogSpec::Format format,
                         std::string* out);

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_ACCESS_LOG_LINE_H_
