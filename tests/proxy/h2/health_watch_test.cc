// grpc.health.v1.Health/Watch, answered by the frame-level plane itself: SERVING at once,
// NOT_SERVING as soon as SIGTERM starts the drain delay, and the stream ends (OK) when the
// listener closes, so that a watching load balancer stops sending in time and the drain
// never waits on it.
#include <signal.h>

#include <string>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/proxy_process.h"
#include "tests/support/raw_h2_client.h"

namespace rollout::testing {
namespace {

const std::string kServing = RawH2Client::GrpcMessage(std::string("\x08\x01", 2));
const std::string kNotServing = RawH2Client::GrpcMessage(std::string("\x08\x02", 2));

TEST(HealthWatchTest, WatchSeesNotServingWhenTheDrainStartsAndEndsWithTheListener) {
  EchoBackend backend("a");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
drain_delay: 1s
pools: [ { name: a, endpoints: ["@A@"] } ]
routes: [ { name: all, split: [ { pool: a, weight: 1 } ] } ]
)",
                                         {{"@A@", backend.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  RawH2Client c(proxy.port());
  c.Send(RawH2Client::Preface());
  c.Send(RawH2Client::Headers(1, RawH2Client::GrpcRequest("/grpc.health.v1.Health/Watch"), false));
  c.Send(RawH2Client::Data(1, RawH2Client::GrpcMessage(""), true));
  c.Pump(absl::Milliseconds(500));
  EXPECT_EQ(c.stream(1).data, kServing);
  EXPECT_FALSE(c.stream(1).ended) << "a watch stays open while nothing changes";
  EXPECT_EQ(backend.total_calls(), 0) << "the watch was forwarded to a backend";

  const absl::Time sigterm = absl::Now();
  proxy.process().Signal(SIGTERM);
  while (c.stream(1).data.size() < 2 * kServing.size() &&
         absl::Now() - sigterm < absl::Seconds(2)) {
    c.Pump(absl::Milliseconds(20));
  }
  EXPECT_EQ(c.stream(1).data, kServing + kNotServing);
  EXPECT_LT(absl::Now() - sigterm, absl::Milliseconds(700)) << "NOT_SERVING came late";
  EXPECT_FALSE(c.stream(1).ended) << "ended before the drain delay was over";

  const RawH2Client::Stream s = c.Wait(1, absl::Seconds(3));
  EXPECT_TRUE(s.ended);
  EXPECT_FALSE(s.reset);
  EXPECT_EQ(s.fields.count("grpc-status") ? s.fields.at("grpc-status") : "none", "0");
  EXPECT_GE(absl::Now() - sigterm, absl::Milliseconds(900)) << "ended before the drain delay";
  std::optional<int> code = proxy.process().WaitForExit(absl::Seconds(5));
  ASSERT_TRUE(code.has_value()) << "the watch held up the drain";
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace rollout::testing
