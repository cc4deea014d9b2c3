// Shadow traffic through a real proxy to real model servers: answers compared and counted,
// the client only ever sees the primary, and a slow or dead mirror never hurts the primary.
#include <signal.h>

#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/support/http_get.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

inference::ModelInferRequest Request(float x) {
  return InferRequest("classifier", {x, 2.0f, 3.0f, 4.0f});
}

class MirrorTest : public ::testing::Test {
 protected:
  void StartProxy(const std::string& mirror_address, const std::string& mirror_options) {
    proxy_ = std::make_unique<ProxyProcess>(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: stable, endpoints: ["@STABLE@"] }
  - { name: shadow, endpoints: ["@SHADOW@"], outlier_detection: { consecutive_failures: 0 } }
routes:
  - name: infer
    mirror: { pool: shadow, percent: 100@OPTIONS@ }
    split: [ { pool: stable, weight: 1 } ]
)",
                                                                {{"@STABLE@", stable_.address()},
                                                                 {"@SHADOW@", mirror_address},
                                                                 {"@OPTIONS@", mirror_options}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
    stub_ = inference::GRPCInferenceService::NewStub(proxy_->NewChannel());
  }

  // Sends `n` calls; every one must be answered by the stable version. Returns the slowest.
  absl::Duration Send(int n) {
    absl::Duration slowest;
    for (int i = 0; i < n; ++i) {
      grpc::ClientContext ctx;
      inference::ModelInferResponse response;
      const absl::Time start = absl::Now();
      grpc::Status s = stub_->ModelInfer(&ctx, Request(0.1f * i), &response);
      slowest = std::max(slowest, absl::Now() - start);
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(response.model_version(), "stable") << "a shadow answer reached the client";
    }
    return slowest;
  }

  // rollout_proxy_mirror_results_total for `result`, polled until it reaches `want`.
  double MirrorResults(const std::string& result, double want) {
    double value = -1;
    const std::regex re(absl::StrCat(
        R"re(rollout_proxy_mirror_results_total\{route="infer",pool="shadow",result=")re", result,
        R"re("\} ([0-9.e+]+))re"));
    for (int i = 0; i < 100 && value != want; ++i) {
      std::string text = HttpGet(proxy_->metrics_port(), "/metrics").value_or("");
      std::smatch m;
      value = std::regex_search(text, m, re) ? std::stod(m[1]) : -1;
      if (value != want) absl::SleepFor(absl::Milliseconds(20));
    }
    return value;
  }

  // Whether rollout_proxy_mirror_top1_total for `agreement` (both when empty) reaches `want`.
  bool Top1(const std::string& agreement, int64_t want) {
    const std::string only = agreement.empty() ? "" : R"(,agreement=")" + agreement + "\"";
    return WaitForMetric(
        proxy_->metrics_port(),
        absl::StrCat(R"(rollout_proxy_mirror_top1_total{route="infer",pool="shadow")", only, "}"),
        want);
  }

  DemoServerProcess stable_{{"--version", "stable"}};
  std::unique_ptr<ProxyProcess> proxy_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

TEST_F(MirrorTest, SameModelMatchesAndTheClientSeesOnlyThePrimary) {
  // The same weights under another version name: outputs agree exactly.
  DemoServerProcess twin({"--version", "stable"});
  StartProxy(twin.address(), "");
  Send(50);
  EXPECT_EQ(MirrorResults("match", 50), 50);
  EXPECT_EQ(MirrorResults("mismatch", 0), 0);
  // One prediction per call, the same class each time.
  EXPECT_TRUE(Top1("agree", 50));
  EXPECT_TRUE(Top1("disagree", 0));
}

TEST_F(MirrorTest, DifferentModelIsAMismatchWithItsNumericDifference) {
  DemoServerProcess candidate({"--version", "candidate"});
  StartProxy(candidate.address(), ", tolerance: 0.0001");
  Send(40);
  EXPECT_EQ(MirrorResults("mismatch", 40), 40);
  const std::string text = HttpGet(proxy_->metrics_port(), "/metrics").value_or("");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      text, m,
      std::regex(
          R"re(rollout_proxy_mirror_max_difference\{route="infer",pool="shadow"\} ([0-9.e+-]+))re")));
  EXPECT_GT(std::stod(m[1]), 0.0001);
  EXPECT_LE(std::stod(m[1]), 1.0);  // probabilities differ by at most 1
  // Every prediction was compared by its top class, whichever way it went.
  EXPECT_TRUE(Top1("", 40));
}

TEST_F(MirrorTest, TheShadowsOwnLatencyIsMeasured) {
  // The shadow takes 120 ms more than the primary: wide margins on both sides of the
  // primary's bound, since sanitized processes on two busy cores take tens of ms per call.
  DemoServerProcess slower({"--version", "stable", "--extra-latency-ms", "120"});
  StartProxy(slower.address(), "");
  const absl::Duration slowest = Send(20);
  EXPECT_LT(slowest, absl::Milliseconds(100)) << "the primary waited for the mirror";
  EXPECT_EQ(MirrorResults("match", 20), 20);
  const std::string text = HttpGet(proxy_->metrics_port(), "/metrics").value_or("");
  const std::string prefix =
      R"(rollout_proxy_mirror_duration_seconds_bucket{route="infer",pool="shadow",le=)";
  // Every shadow call took the backend's 120 ms or more, and ended within a second.
  EXPECT_THAT(text, ::testing::HasSubstr(prefix + "\"0.1\"} 0")) << text;
  EXPECT_THAT(text, ::testing::HasSubstr(prefix + "\"1\"} 20"));
  EXPECT_THAT(
      text, ::testing::HasSubstr(
                R"(rollout_proxy_mirror_duration_seconds_count{route="infer",pool="shadow"} 20)"));
}

TEST_F(MirrorTest, SlowMirrorNeverDelaysThePrimaryAndItsExcessIsDropped) {
  DemoServerProcess slow({"--version", "stable", "--extra-latency-ms", "400"});
  StartProxy(slow.address(), ", max_inflight: 2");
  const absl::Duration slowest = Send(30);
  EXPECT_LT(slowest, absl::Milliseconds(200)) << "the primary waited for the mirror";
  // Two mirrors can be in flight; the others are dropped and counted.
  EXPECT_GE(MirrorResults("dropped", 28), 20);
}

TEST_F(MirrorTest, SigtermDoesNotWaitForShadowCalls) {
  DemoServerProcess very_slow({"--version", "stable", "--extra-latency-ms", "20000"});
  StartProxy(very_slow.address(), "");
  Send(3);  // three mirrors now wait on a 20 s backend
  // An idle sync client polls its connection only every few seconds, which would slow the
  // graceful GOAWAY; this test is about the mirrors, so the client leaves first.
  stub_.reset();
  const absl::Time sent = absl::Now();
  proxy_->process().Signal(SIGTERM);
  std::optional<int> code = proxy_->process().WaitForExit(absl::Seconds(10));
  ASSERT_TRUE(code.has_value()) << "the proxy waited for its mirrors";
  EXPECT_EQ(*code, 0) << proxy_->Log();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(5)) << proxy_->Log();  // vs 20 s if it waited
}

TEST_F(MirrorTest, DeadMirrorNeverFailsThePrimary) {
  StartProxy(absl::StrCat("127.0.0.1:", UnusedPort()), "");
  Send(20);
  EXPECT_EQ(MirrorResults("error", 20), 20);
}

TEST_F(MirrorTest, StreamsAreMirroredMessageByMessage) {
  DemoServerProcess twin({"--version", "stable"});
  StartProxy(twin.address(), "");
  grpc::ClientContext ctx;
  auto stream = stub_->ModelStreamInfer(&ctx);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(stream->Write(Request(0.5f * i)));
    inference::ModelStreamInferResponse reply;
    ASSERT_TRUE(stream->Read(&reply));
    EXPECT_EQ(reply.infer_response().model_version(), "stable");
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(MirrorResults("match", 1), 1) << "one stream, all five answers equal";
}

}  // namespace
}  // namespace rollout::testing
