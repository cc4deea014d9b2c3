// The proxy's /metrics as Prometheus sees it: exact counts per pool and code against what
// the backends really served, promtool's verdict on the exposition, and a real Prometheus
// server scraping the proxy and answering a PromQL query.
#include <map>
#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/support/echo_backend.h"
#include "tests/support/http_get.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

// The value of the exposition line that starts with `series` (name and labels), or -1.
double Sample(const std::string& exposition, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double value = -1;
      if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) return value;
    }
  }
  return -1;
}

class MetricsExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proxy_ = std::make_unique<ProxyProcess>(
        absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: stable, endpoints: ["S"] }
  - { name: canary, endpoints: ["C"] }
routes:
  - name: echo
    split: [ { pool: stable, weight: 80 }, { pool: canary, weight: 20 } ]
)",
                            {{"S", stable_.address()}, {"C", canary_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
    ASSERT_GT(proxy_->metrics_port(), 0) << proxy_->Log();
  }

  // Sends `ok` successful calls and `failed` FAILED_PRECONDITION calls.
  void Send(int ok, int failed) {
    auto stub = Echo::NewStub(proxy_->NewChannel());
    for (int i = 0; i < ok + failed; ++i) {
      grpc::ClientContext ctx;
      EchoRequest request;
      if (i >= ok) request.set_fail_code(grpc::StatusCode::FAILED_PRECONDITION);
      EchoResponse response;
      stub->Unary(&ctx, request, &response);
    }
  }

  std::string Scrape() {
    absl::StatusOr<std::string> body = HttpGet(proxy_->metrics_port(), "/metrics");
    EXPECT_TRUE(body.ok()) << body.status();
    return body.value_or("");
  }

  EchoBackend stable_{"stable"};
  EchoBackend canary_{"canary"};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(MetricsExportTest, CountersMatchTheCallsEachPoolServedByCode) {
  Send(/*ok=*/300, /*failed=*/100);
  const std::string text = Scrape();
  const std::string r = R"({route="echo",pool=")";
  const double stable_ok =
      Sample(text, "rollout_proxy_requests_total" + r + R"(stable",grpc_code="OK"})");
  const double stable_fp = Sample(
      text, "rollout_proxy_requests_total" + r + R"(stable",grpc_code="FAILED_PRECONDITION"})");
  const double canary_ok =
      Sample(text, "rollout_proxy_requests_total" + r + R"(canary",grpc_code="OK"})");
  const double canary_fp = Sample(
      text, "rollout_proxy_requests_total" + r + R"(canary",grpc_code="FAILED_PRECONDITION"})");
  // Exactly what each backend served, split by the code it returned.
  EXPECT_EQ(stable_ok + stable_fp, stable_.total_calls());
  EXPECT_EQ(canary_ok + canary_fp, canary_.total_calls());
  EXPECT_EQ(stable_ok + canary_ok, 300);
  EXPECT_EQ(stable_fp + canary_fp, 100);
  EXPECT_GT(canary_ok + canary_fp, 0);
  EXPECT_EQ(Sample(text, "rollout_proxy_request_duration_seconds_count" + r + R"(stable"})"),
            stable_.total_calls());
  EXPECT_EQ(Sample(text, "rollout_proxy_inflight_requests" + r + R"(stable"})"), 0);
  EXPECT_EQ(Sample(text, "rollout_proxy_route_weight" + r + R"(canary"})"), 0.2);
  EXPECT_EQ(Sample(text, R"(rollout_proxy_endpoint_healthy{pool="canary",endpoint=")" +
                             canary_.address() + "\"}"),
            1);
  EXPECT_GT(Sample(text, "process_resident_memory_bytes"), 1e6);
}

TEST_F(MetricsExportTest, PromtoolAcceptsTheExposition) {
  Send(20, 5);
  TempDir dir;
  const std::string path = dir.WriteFile("metrics.txt", Scrape());
  std::string out;
  EXPECT_EQ(RunCommand({"/bin/sh", "-c", "promtool check metrics < " + path}, &out), 0) << out;
}

TEST_F(MetricsExportTest, PrometheusScrapesTheProxyAndPromQLSeesPerPoolCounts) {
  TempDir dir;
  const int prometheus_port = UnusedPort();
  const std::string config = dir.WriteFile("prometheus.yml", absl::StrCat(R"(
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: rollout-proxy
    static_configs: [ { targets: ["127.0.0.1:)",
                                                                          proxy_->metrics_port(),
                                                                          R"("] } ]
)"));
  ChildProcess prometheus({"/usr/bin/prometheus", "--config.file=" + config,
                           "--storage.tsdb.path=" + dir.path() + "/data",
                           absl::StrCat("--web.listen-address=127.0.0.1:", prometheus_port),
                           "--log.level=warn"});
  Send(/*ok=*/200, /*failed=*/0);
  const int stable = stable_.total_calls();
  const int canary = canary_.total_calls();
  ASSERT_EQ(stable + canary, 200);

  const std::string query =
      UrlEncode(R"(sum by (pool) (rollout_proxy_requests_total{route="echo",grpc_code="OK"}))");
  std::string body;
  bool seen = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!seen && absl::Now() < deadline && prometheus.running()) {
    absl::SleepFor(absl::Milliseconds(500));
    absl::StatusOr<std::string> reply = HttpGet(prometheus_port, "/api/v1/query?query=" + query);
    if (!reply.ok()) continue;
    body = *reply;
    // {"metric":{"pool":"stable"},"value":[<time>,"<count>"]}
    auto count_of = [&](const std::string& pool) {
      std::smatch m;
      const std::regex re("\"pool\":\"" + pool + R"re("\},"value":\[[0-9.]+,"([0-9]+)"\])re");
      return std::regex_search(body, m, re) ? std::stoi(m[1]) : -1;
    };
    seen = count_of("stable") == stable && count_of("canary") == canary;
  }
  EXPECT_TRUE(seen) << "last answer: " << body << "\nprometheus log:\n" << prometheus.Log();
}

// A generative model's stream through the proxy: the time to its first message and the gaps
// between the later ones, measured on the frame level, as a client would see them.
TEST(StreamMetricsTest, FirstMessageAndGapsOfATokenStreamAreExported) {
  DemoServerProcess generator(
      {"--version", "v4", "--generate", "5", "--first-token-ms", "200", "--token-ms", "30"});
  ASSERT_TRUE(generator.ok());
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: gen, endpoints: ["G"] }
routes:
  - name: chat
    split: [ { pool: gen, weight: 100 } ]
)",
                                         {{"G", generator.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = inference::GRPCInferenceService::NewStub(proxy.NewChannel());
  grpc::ClientContext ctx;
  auto stream = stub->ModelStreamInfer(&ctx);
  ASSERT_TRUE(stream->Write(InferRequest()));
  stream->WritesDone();
  inference::ModelStreamInferResponse reply;
  int messages = 0;
  while (stream->Read(&reply)) ++messages;
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(messages, 5);
  absl::StatusOr<std::string> text = HttpGet(proxy.metrics_port(), "/metrics");
  ASSERT_TRUE(text.ok()) << text.status();
  const std::string labels = R"({route="chat",pool="gen")";
  const std::string first = "rollout_proxy_stream_first_message_seconds";
  EXPECT_EQ(Sample(*text, first + "_count" + labels + "}"), 1);
  EXPECT_GE(Sample(*text, first + "_sum" + labels + "}"), 0.2);
  EXPECT_EQ(Sample(*text, first + "_bucket" + labels + R"(,le="0.1"})"), 0);
  EXPECT_EQ(Sample(*text, first + "_bucket" + labels + R"(,le="0.5"})"), 1);
  const std::string gap = "rollout_proxy_stream_message_gap_seconds";
  EXPECT_EQ(Sample(*text, gap + "_count" + labels + "}"), 4);
  EXPECT_GE(Sample(*text, gap + "_sum" + labels + "}"), 4 * 0.030);
  EXPECT_EQ(Sample(*text, gap + "_bucket" + labels + R"(,le="0.01"})"), 0);
  EXPECT_EQ(Sample(*text, "rollout_proxy_stream_messages_total" + labels + "}"), 5);
  // The whole call took longer than its first message: one duration alone would hide it.
  EXPECT_GE(Sample(*text, "rollout_proxy_request_duration_seconds_sum" + labels + "}"), 0.32);
}

}  // namespace
}  // namespace rollout::testing
