// A generative model released as a canary: both versions stream their tokens in the same
// total time, but the candidate's first token comes late. Judged on its time to the first
// message, the canary is aborted, naming the p99; judged on the calls' duration alone it
// would pass. Real processes: the proxy, two demo-model-servers, rolloutctl.
#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kSecret[] = "streaming-bot-secret-0123456789";

// Streaming calls (one request, every token read) through `proxy` on 8 threads, until
// destroyed.
class StreamLoad {
 public:
  explicit StreamLoad(const ProxyProcess& proxy) {
    for (int t = 0; t < 8; ++t) {
      threads_.emplace_back([this, channel = proxy.NewChannel()] {
        auto stub = inference::GRPCInferenceService::NewStub(channel);
        while (!stop_) {
          grpc::ClientContext ctx;
          auto stream = stub->ModelStreamInfer(&ctx);
          stream->Write(InferRequest());
          stream->WritesDone();
          inference::ModelStreamInferResponse reply;
          while (stream->Read(&reply)) {
          }
          stream->Finish();
        }
      });
    }
  }
  ~StreamLoad() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

TEST(StreamingCanaryTest, ASlowFirstTokenAbortsTheCanaryThoughTheTotalIsTheSame) {
  // 10 tokens in about 300 ms each way: v1 starts at once, v2 after 210 ms.
  DemoServerProcess v1(
      {"--version", "v1", "--generate", "10", "--first-token-ms", "10", "--token-ms", "32"});
  DemoServerProcess v2(
      {"--version", "v2", "--generate", "10", "--first-token-ms", "210", "--token-ms", "10"});
  ASSERT_TRUE(v1.ok() && v2.ok());
  TempDir dir;
  dir.WriteFile("admin.tokens", absl::StrCat("release-bot admin ", kSecret, "\n"));
  const std::string token = dir.WriteFile("bot.token", kSecret);
  ProxyProcess proxy(
      absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
admin: { listen: 127.0.0.1:0, token_file: @DIR@/admin.tokens }
state_dir: @DIR@/state
pools:
  - { name: v1, endpoints: ["@V1@"] }
  - { name: v2, endpoints: ["@V2@"] }
routes:
  - name: chat
    split: [ { pool: v1, weight: 100 } ]
)",
                          {{"@DIR@", dir.path()}, {"@V1@", v1.address()}, {"@V2@", v2.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  StreamLoad load(proxy);
  auto ctl = [&](std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {kRolloutctlBin, "--admin", proxy.admin_address(),
                                     "--token-file", token};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out, absl::Seconds(40));
  };
  std::string out;
  ASSERT_EQ(ctl({"rollout", "start",
                 "chat",    "--stable",
                 "v1",      "--candidate",
                 "v2",      "--steps",
                 "50",      "--interval",
                 "2s",      "--min-requests",
                 "5",       "--max-error-rate",
                 "0.05",    "--max-p99",
                 "2s",      "--max-first-message-p99",
                 "100ms",   "--failure-limit",
                 "2"},
                &out),
            0)
      << out;
  ASSERT_EQ(ctl({"rollout", "events", "chat", "--until-done"}, &out), 1) << out;  // aborted
  EXPECT_THAT(out, HasSubstr("first message p99"));
  ASSERT_EQ(ctl({"--json", "rollout", "get", "chat"}, &out), 0) << out;
  const nlohmann::json r = nlohmann::json::parse(out);
  EXPECT_EQ(r["outcome"], "aborted");
  const std::string why = r["outcome_reason"];
  EXPECT_THAT(why, HasSubstr("vs max 100.00ms FAIL"));
  EXPECT_THAT(why, HasSubstr("p99")) << why;
  // The calls' own p99 passed: the total was the same, only the first token was late.
  EXPECT_THAT(why, ::testing::ContainsRegex("; p99 [0-9.]+ms vs max 2000.00ms ok"));
  // The status shows both versions' times to the first message.
  ASSERT_EQ(ctl({"status"}, &out), 0) << out;
  const size_t table = out.find("first p99");
  ASSERT_NE(table, std::string::npos) << out;
  const size_t row = out.find("\n  v2 ", table);
  ASSERT_NE(row, std::string::npos) << out;
  double first_p50_ms = 0;  // v2's first token comes after 210 ms
  ASSERT_EQ(std::sscanf(out.c_str() + row, "\n  v2 %lfms", &first_p50_ms), 1) << out;
  EXPECT_GE(first_p50_ms, 200);
}

}  // namespace
}  // namespace rollout::testing
