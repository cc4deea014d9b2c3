// The frame-level plane enforces the client's grpc-timeout itself: against a backend that
// never answers and ignores deadlines (tests/support/deaf_h2_backend.py), the client gets
// DEADLINE_EXCEEDED from the proxy on time, and the backend stream is reset (CANCEL).
#include <nghttp2/nghttp2.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/proxy_process.h"
#include "tests/support/raw_h2_client.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kDeafBackend[] = ROLLOUT_SOURCE_DIR "/tests/support/deaf_h2_backend.py";

TEST(DeadlineTest, TheProxyEndsACallAtItsDeadlineEvenIfTheBackendIgnoresIt) {
  ChildProcess backend({"/usr/bin/python3", kDeafBackend});
  const std::string port =
      backend.WaitForLine(R"(listening on 127\.0\.0\.1:(\d+))", absl::Seconds(10));
  ASSERT_FALSE(port.empty()) << backend.Log();
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools: [ { name: a, endpoints: ["127.0.0.1:@PORT@"] } ]
routes: [ { name: all, split: [ { pool: a, weight: 1 } ] } ]
)",
                                         {{"@PORT@", port}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();

  RawH2Client c(proxy.port());
  c.Send(RawH2Client::Preface());
  const absl::Time start = absl::Now();
  c.Send(RawH2Client::Headers(
      1, RawH2Client::GrpcRequest("/rollout.testing.Echo/Unary", {{"grpc-timeout", "300m"}}),
      false));
  c.Send(RawH2Client::Data(1, RawH2Client::GrpcMessage(""), true));
  const RawH2Client::Stream s = c.Wait(1, absl::Seconds(3));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(s.ended);
  EXPECT_EQ(s.fields.count("grpc-status") ? s.fields.at("grpc-status") : "none", "4");
  EXPECT_THAT(s.fields.count("grpc-message") ? s.fields.at("grpc-message") : "",
              HasSubstr("deadline exceeded (grpc-timeout 300m)"));
  EXPECT_EQ(s.fields.count("x-rollout-pool") ? s.fields.at("x-rollout-pool") : "", "a");
  EXPECT_GE(took, absl::Milliseconds(295));
  EXPECT_LT(took, absl::Milliseconds(800));
  // The backend saw the request, with the caller's deadline, and then the cancel.
  EXPECT_EQ(backend.WaitForLine(R"(request 1 grpc-timeout=(\S+))", absl::Seconds(2)), "300m");
  EXPECT_EQ(backend.WaitForLine(R"(reset 1 (\d+))", absl::Seconds(2)),
            std::to_string(NGHTTP2_CANCEL))
      << backend.Log();

  // A call without a deadline is left alone.
  c.Send(RawH2Client::Headers(3, RawH2Client::GrpcRequest("/rollout.testing.Echo/Unary"), false));
  c.Send(RawH2Client::Data(3, RawH2Client::GrpcMessage(""), true));
  c.Pump(absl::Seconds(1));
  EXPECT_FALSE(c.stream(3).ended);
}

}  // namespace
}  // namespace rollout::testing
