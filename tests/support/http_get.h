// A minimal HTTP/1.0 GET against 127.0.0.1, for scraping /metrics and querying Prometheus's
// HTTP API in tests; and a free loopback port for servers that cannot bind port 0.
#ifndef ROLLOUT_TESTS_SUPPORT_HTTP_GET_H_
#define ROLLOUT_TESTS_SUPPORT_HTTP_GET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rollout::testing {

// The body of a 200 response; any other status or a connection failure is an error.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path_and_query);

// Percent-encodes everything but unreserved characters, for query parameters.
std::string UrlEncode(const std::string& text);

// A loopback port that nothing listened on a moment ago (bound, then closed).
int UnusedPort();

// `n` distinct such ports: every socket stays bound until all are chosen, so the kernel cannot
// hand the same port out twice (as back-to-back UnusedPort() calls now and then do).
std::vector<int> UnusedPorts(int n);

// The sum of the samples on the /metrics page at `port` whose name and labels include every
// part of `selector` (`name{k="v",...}`, labels in any order); -1 if the page cannot be had.
int64_t MetricSum(int port, const std::string& selector);
// Polls MetricSum() until it equals `want`, for up to `timeout`.
bool WaitForMetric(int port, const std::string& selector, int64_t want,
                   absl::Duration timeout = absl::Seconds(5));

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_HTTP_GET_H_
