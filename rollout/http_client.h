// HttpClient: one blocking HTTP request over libcurl, for the Prometheus metric source and
// the webhook notifier. Both run off the data path (the engine's tick thread and the
// notifier's sender thread).
//
//   absl::StatusOr<HttpResponse> r = HttpGet("http://127.0.0.1:9090/api/v1/query?query=up",
//                                            absl::Seconds(2));
//
// Thread-safety: thread-safe (each call has its own curl handle).
#ifndef ROLLOUT_ROLLOUT_HTTP_CLIENT_H_
#define ROLLOUT_ROLLOUT_HTTP_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rollout::control {

struct HttpResponse {
  long status = 0;
  std::string body;
};

// UNAVAILABLE, with curl's reason, when the server cannot be reached or does not answer in
// time. Any HTTP status is a response.
absl::StatusOr<HttpResponse> HttpGet(const std::string& url, absl::Duration timeout);
absl::StatusOr<HttpResponse> HttpPostJson(const std::string& url, const std::string& body,
                                          absl::Duration timeout);
// Percent-encodes `text` for a URL query.
std::string UrlEncode(const std::string& text);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_HTTP_CLIENT_H_
