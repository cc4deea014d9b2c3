// The load tester against real demo-model-servers: requests fed to the sampler as the data
// plane feeds it, replayed at the asked rate, and counted as the proxy counts its calls.
#include "rollout/load_replayer.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/model_fields.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"

namespace rollout::control {
namespace {

using testing::DemoServerProcess;
using ::testing::HasSubstr;

constexpr char kInfer[] = "/inference.GRPCInferenceService/ModelInfer";

// `payload` as one gRPC message: flag, big-endian length, bytes.
std::string Framed(const std::string& payload, bool compressed = false) {
  std::string out(1, compressed ? '\1' : '\0');
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(char((payload.size() >> shift) & 0xff));
  return out + payload;
}

TEST(ReplayableMessagesTest, SplitsTheBodyAndAppendsThePinToEachMessage) {
  std::optional<std::vector<std::string>> m =
      ReplayableMessages(Framed("ab") + Framed("") + Framed("cde"), "+pin");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(*m, (std::vector<std::string>{"ab+pin", "+pin", "cde+pin"}));
  EXPECT_FALSE(ReplayableMessages(Framed("ab", /*compressed=*/true), "").has_value());
  EXPECT_FALSE(ReplayableMessages(Framed("abc").substr(0, 6), "").has_value());  // cut
  EXPECT_FALSE(ReplayableMessages(std::string("\0\0", 2), "").has_value());
  EXPECT_TRUE(ReplayableMessages("", "")->empty());
}

// Feeds `route` of `sampler` with real ModelInfer requests, as the data plane would, until
// destroyed.
class Traffic {
 public:
  Traffic(proxy::RequestSampler* sampler, std::string route) {
    thread_ = std::thread([this, sampler, route] {
      const std::string body = Framed(testing::InferRequest().SerializeAsString());
      while (!stop_) {
        if (auto copy = sampler->Begin(route, kInfer)) {
          copy->Append(reinterpret_cast<const uint8_t*>(body.data()), body.size());
          copy->Keep();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  ~Traffic() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

LoadTestPlan PlanFor(const DemoServerProcess& server, absl::Duration duration) {
  LoadTestPlan plan;
  plan.release = 7;
  plan.route = "infer";
  plan.candidate = "v2";
  plan.endpoints.push_back({server.address(), {}});
  plan.spec.duration = duration;
  plan.spec.rate = 40;
  plan.spec.sample = 20;
  return plan;
}

LoadTestProgress WaitDone(GrpcLoadTester* tester, uint64_t key) {
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  std::optional<LoadTestProgress> p;
  while (absl::Now() < give_up) {
    p = tester->Poll(key);
    if (p.has_value() && (p->stage == LoadTestProgress::Stage::kDone ||
                          p->stage == LoadTestProgress::Stage::kFailed)) {
      return *p;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ADD_FAILURE() << "the load test did not end: " << (p ? p->detail : "unknown");
  return {};
}

class GrpcLoadTesterTest : public ::testing::Test {
 protected:
  // Users' calls on route infer, as the data plane sees them.
  void Feed() { traffic_ = std::make_unique<Traffic>(&sampler_, "infer"); }

  proxy::RequestSampler sampler_;
  GrpcLoadTester tester_{&sampler_};
  std::unique_ptr<Traffic> traffic_;
};

TEST_F(GrpcLoadTesterTest, ReplaysTheSampleAtTheRateAndMeasuresTheCandidate) {
  DemoServerProcess slow({"--version", "v2", "--extra-latency-ms", "40"});
  ASSERT_TRUE(slow.ok());
  Feed();
  tester_.Begin(7, PlanFor(slow, absl::Seconds(2)));
  const LoadTestProgress p = WaitDone(&tester_, 7);
  ASSERT_EQ(p.stage, LoadTestProgress::Stage::kDone) << p.detail;
  EXPECT_THAT(p.detail, HasSubstr("replayed 20 requests of route infer to v2 at 40/s for 2s"));
  EXPECT_EQ(p.stats.requests, 80u);  // 40/s for 2 s
  EXPECT_EQ(p.stats.server_errors, 0u);
  EXPECT_EQ(p.data["codes"], (nlohmann::json{{"OK", 80}}));
  ASSERT_TRUE(p.stats.p99_seconds.has_value());
  EXPECT_GE(*p.stats.p99_seconds, 0.040);  // the candidate's own latency
  EXPECT_EQ(p.data["sample"]["requests"], 20);
  EXPECT_GE(p.replay_ended - p.replay_started, absl::Milliseconds(1900));
  EXPECT_FALSE(sampler_.Look("infer").armed);  // the sample was taken out of the sampler
  tester_.Cancel(7);
  EXPECT_FALSE(tester_.Poll(7).has_value());
}

TEST_F(GrpcLoadTesterTest, AModelPinTheServerDoesNotHostFailsEveryCall) {
  // The candidate pool pins a model the server does not host: NOT_FOUND is
  // the caller's error, not the server's, so the calls are counted but are not errors...
  DemoServerProcess server({"--version", "v2"});
  ASSERT_TRUE(server.ok());
  Feed();
  LoadTestPlan plan = PlanFor(server, absl::Seconds(1));
  plan.model_fields = proxy::EncodeModelFields("no-such-model", "");
  tester_.Begin(8, plan);
  const LoadTestProgress p = WaitDone(&tester_, 8);
  ASSERT_EQ(p.stage, LoadTestProgress::Stage::kDone) << p.detail;
  // ...and the pin reached the server: every call was answered NOT_FOUND.
  EXPECT_EQ(p.stats.requests, 40u);
  EXPECT_EQ(p.stats.server_errors, 0u);
  EXPECT_EQ(p.data["calls"], 40);
  EXPECT_EQ(p.data["codes"], (nlohmann::json{{"NOT_FOUND", 40}}));
}

TEST_F(GrpcLoadTesterTest, NoRequestToSampleFailsAtTheTimeout) {
  DemoServerProcess server({"--version", "v2"});
  ASSERT_TRUE(server.ok());
  LoadTestPlan plan = PlanFor(server, absl::Seconds(1));
  plan.spec.timeout = absl::Milliseconds(300);
  tester_.Begin(9, plan);
  const LoadTestProgress p = WaitDone(&tester_, 9);
  EXPECT_EQ(p.stage, LoadTestProgress::Stage::kFailed);
  EXPECT_THAT(p.detail, HasSubstr("no request of route infer came within 300ms to sample"));
}

TEST_F(GrpcLoadTesterTest, CancelStopsATestUnderWay) {
  DemoServerProcess server({"--version", "v2", "--extra-latency-ms", "2000"});
  ASSERT_TRUE(server.ok());
  Feed();
  tester_.Begin(10, PlanFor(server, absl::Seconds(30)));
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Time before = absl::Now();
  tester_.Cancel(10);
  EXPECT_LT(absl::Now() - before, absl::Milliseconds(100));  // returns at once
  EXPECT_FALSE(tester_.Poll(10).has_value());
}  // the tester waits for the cancelled calls at its end: 10 s (their deadline) if not cancelled

}  // namespace
}  // namespace rollout::control
