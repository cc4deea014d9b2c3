// Overload protection: concurrency limits on the listener and on each pool refuse the
// excess at once with RESOURCE_EXHAUSTED (and count it), the message-size cap, and memory
// that stays bounded when one side of a stream is much faster than the other.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <regex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

// Runs `n` unary calls that each sleep `sleep_ms` at the backend, on their own threads;
// Join() returns their statuses.
class SlowCalls {
 public:
  SlowCalls(const std::shared_ptr<grpc::Channel>& channel, int n, int sleep_ms,
            const std::string& pool = "") {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, channel, sleep_ms, pool, i] {
        auto stub = Echo::NewStub(channel);
        grpc::ClientContext ctx;
        if (!pool.empty()) ctx.AddMetadata("x-pool", pool);
        EchoRequest request;
        request.set_sleep_ms(sleep_ms);
        EchoResponse response;
        statuses_[i] = stub->Unary(&ctx, request, &response);
      });
    }
    statuses_.resize(n);
  }
  std::vector<grpc::Status> Join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
    return statuses_;
  }
  ~SlowCalls() { Join(); }

 private:
  std::vector<grpc::Status> statuses_{64};
  std::vector<std::thread> threads_;
};

grpc::Status Call(Echo::Stub& stub, const std::string& pool, absl::Duration* took = nullptr) {
  grpc::ClientContext ctx;
  if (!pool.empty()) ctx.AddMetadata("x-pool", pool);
  EchoResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = stub.Unary(&ctx, EchoRequest(), &response);
  if (took != nullptr) *took = absl::Now() - start;
  return status;
}

double Counter(const std::string& metrics, const std::string& series) {
  std::smatch m;
  const std::string escaped = std::regex_replace(series, std::regex(R"([{}])"), R"(\$&)");
  if (!std::regex_search(metrics, m, std::regex(escaped + " ([0-9.e+]+)"))) return -1;
  return std::stod(m[1]);
}

TEST(OverloadTest, TheListenerRefusesCallsOverItsLimitAtOnce) {
  EchoBackend a("a");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
max_concurrent_calls: 4
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: a, endpoints: ["@A@"] }
routes:
  - name: all
    split: [ { pool: a, weight: 1 } ]
)",
                                         {{"@A@", a.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto channel = proxy.NewChannel();
  auto stub = Echo::NewStub(channel);
  {
    SlowCalls slow(channel, 4, 1500);
    ASSERT_TRUE(a.WaitFor([&] { return a.active_calls() == 4; }, absl::Seconds(5)));
    absl::Duration took;
    grpc::Status refused = Call(*stub, "", &took);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(refused.error_message(), HasSubstr("listener is at its limit of 4"));
    EXPECT_LT(took, absl::Milliseconds(500)) << "the excess call waited instead of failing";
    EXPECT_EQ(a.total_calls(), 4) << "a refused call reached the backend";
    for (const grpc::Status& s : slow.Join()) EXPECT_TRUE(s.ok()) << s.error_message();
  }
  // The slots are free again.
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Call(*stub, "").ok());
  const std::string metrics = HttpGet(proxy.metrics_port(), "/metrics").value_or("");
  EXPECT_EQ(Counter(metrics, R"(rollout_proxy_rejected_requests_total{limit="listener",pool=""})"),
            1)
      << metrics;
}

TEST(OverloadTest, APoolAtItsLimitRefusesItsOwnCallsOnly) {
  EchoBackend a("a"), b("b");
  TempDir dir;
  const std::string config = absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: a, endpoints: ["@A@"], max_concurrent_calls: @MAX@ }
  - { name: b, endpoints: ["@B@"] }
routes:
  - name: all
    override_header: x-pool
    split: [ { pool: a, weight: 1 } ]
)",
                                                 {{"@A@", a.address()}, {"@B@", b.address()}});
  ProxyProcess proxy(absl::StrReplaceAll(config, {{"@MAX@", "2"}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto channel = proxy.NewChannel();
  auto stub = Echo::NewStub(channel);
  {
    SlowCalls slow(channel, 2, 1500, "a");
    ASSERT_TRUE(a.WaitFor([&] { return a.active_calls() == 2; }, absl::Seconds(5)));
    grpc::Status refused = Call(*stub, "a");
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(refused.error_message(), HasSubstr("pool \"a\" is at its limit of 2"));
    EXPECT_TRUE(Call(*stub, "b").ok()) << "another pool's calls were refused too";
    for (const grpc::Status& s : slow.Join()) EXPECT_TRUE(s.ok()) << s.error_message();
  }
  std::string metrics = HttpGet(proxy.metrics_port(), "/metrics").value_or("");
  EXPECT_EQ(Counter(metrics, R"(rollout_proxy_rejected_requests_total{limit="pool",pool="a"})"), 1)
      << metrics;
  // A refusal is a failure the version's users saw: it counts against the route and pool.
  EXPECT_EQ(
      Counter(
          metrics,
          R"(rollout_proxy_requests_total{route="all",pool="a",grpc_code="RESOURCE_EXHAUSTED"})"),
      1)
      << metrics;

  // A reload raises the limit for new calls.
  { std::ofstream(proxy.config_path()) << absl::StrReplaceAll(config, {{"@MAX@", "3"}}); }
  proxy.process().Signal(SIGHUP);
  ASSERT_FALSE(proxy.process().WaitForLine("reloaded", absl::Seconds(5)).empty()) << proxy.Log();
  SlowCalls slow(channel, 3, 1000, "a");
  ASSERT_TRUE(a.WaitFor([&] { return a.active_calls() == 3; }, absl::Seconds(5)))
      << "the third call was refused after the limit was raised";
  EXPECT_EQ(Call(*stub, "a").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  for (const grpc::Status& s : slow.Join()) EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST(OverloadTest, AMessageOverTheSizeCapIsRefusedAndNamed) {
  EchoBackend a("a");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
max_message_bytes: 65536
pools:
  - { name: a, endpoints: ["@A@"] }
routes:
  - name: all
    split: [ { pool: a, weight: 1 } ]
)",
                                         {{"@A@", a.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  EchoRequest request;
  request.set_payload(std::string(60000, 'x'));
  EchoResponse response;
  {
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub->Unary(&ctx, request, &response).ok());
  }
  request.set_payload(std::string(70000, 'x'));
  grpc::ClientContext ctx;
  grpc::Status status = stub->Unary(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("65536"));
  EXPECT_EQ(a.total_calls(), 1) << "the oversized message reached the backend";
}

// Resident memory of a process, in bytes.
int64_t RssBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// RSS samples of a process over a run. Allocators keep RSS moving by several MiB either
// way, so "flat" compares the median of the last third of the samples with the median of
// the first third: unbounded buffering at tens of MiB a second shows up as a rise of
// 100 MiB and more in 4 s.
class RssSamples {
 public:
  explicit RssSamples(pid_t pid) : pid_(pid) {}
  void Take() { samples_.push_back(RssBytes(pid_)); }
  size_t size() const { return samples_.size(); }
  int64_t Rise() const {
    const size_t third = samples_.size() / 3;
    return Median(samples_.end() - third, samples_.end()) -
           Median(samples_.begin(), samples_.begin() + third);
  }
  std::string Describe() const {
    std::string out;
    for (int64_t s : samples_) absl::StrAppend(&out, s >> 20, " ");
    return out + "MiB";
  }

 private:
  static int64_t Median(std::vector<int64_t>::const_iterator begin,
                        std::vector<int64_t>::const_iterator end) {
    std::vector<int64_t> v(begin, end);
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  }
  pid_t pid_;
  std::vector<int64_t> samples_;
};

constexpr int kChunk = 64 * 1024;

// glibc moves its mmap threshold up after large frees, and then keeps 64 KiB blocks in
// per-thread arenas, so RSS wanders by several MiB with no buffering at all. A fixed
// threshold (inherited by the proxy process) takes that noise away, so that what these
// tests see is buffering only. Under ASan the same goes for its quarantine of freed
// memory (256 MiB by default), which is kept small here.
void FixMallocThreshold() {
  setenv("MALLOC_MMAP_THRESHOLD_", "32768", 1);
  setenv("MALLOC_TRIM_THRESHOLD_", "131072", 1);
  const char* asan = getenv("ASAN_OPTIONS");
  const std::string quarantine = "quarantine_size_mb=1:thread_local_quarantine_size_kb=64";
  if (asan == nullptr || std::string(asan).find("quarantine_size_mb") == std::string::npos) {
    setenv(
        "ASAN_OPTIONS",
        (asan != nullptr && *asan != 0 ? std::string(asan) + ":" : "").append(quarantine).c_str(),
        1);
  }
}

std::string OneWorkerConfig(const EchoBackend& a) {
  FixMallocThreshold();
  return absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools:
  - { name: a, endpoints: ["@A@"] }
routes:
  - name: all
    split: [ { pool: a, weight: 1 } ]
)",
                             {{"@A@", a.address()}});
}

TEST(OverloadTest, AFastBackendAndASlowClientKeepTheProxysMemoryFlat) {
  // The backend streams 64 KiB answers as fast as it may (8000 of them: 500 MiB); the
  // client reads one every 2 ms. Without backpressure the proxy would hold what the client
  // has not read yet, about 30 MiB a second.
  EchoBackend a("a");
  ProxyProcess proxy(OneWorkerConfig(a));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  grpc::ClientContext ctx;
  EchoRequest request;
  request.set_payload(std::string(kChunk, 'x'));
  request.set_response_count(8000);
  auto reader = stub->ServerStream(&ctx, request);
  EchoResponse response;
  RssSamples rss(proxy.process().pid());
  const absl::Time end = absl::Now() + absl::Seconds(4);
  int read = 0;
  while (absl::Now() < end && reader->Read(&response)) {
    if (++read % 50 == 0) rss.Take();
    absl::SleepFor(absl::Milliseconds(2));
  }
  ctx.TryCancel();
  reader->Finish();
  ASSERT_GT(read, 500);
  EXPECT_LT(rss.Rise(), 8 << 20) << "the proxy's RSS rose while " << read
                                 << " messages of 64 KiB were read: " << rss.Describe();
}

TEST(OverloadTest, AFastClientAndASlowBackendKeepTheProxysMemoryFlat) {
  // The client writes 64 KiB messages as fast as it may for 4 s; the backend takes one
  // every 2 ms.
  EchoBackend a("a");
  ProxyProcess proxy(OneWorkerConfig(a));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  grpc::ClientContext ctx;
  auto stream = stub->Bidi(&ctx);
  std::thread drain([&] {
    EchoResponse response;
    while (stream->Read(&response)) {
    }
  });
  EchoRequest request;
  request.set_payload(std::string(kChunk, 'x'));
  request.set_sleep_ms(2);
  RssSamples rss(proxy.process().pid());
  int written = 0;
  const absl::Time end = absl::Now() + absl::Seconds(4);
  while (absl::Now() < end && stream->Write(request)) {
    if (++written % 50 == 0) rss.Take();
  }
  stream->WritesDone();
  ctx.TryCancel();
  drain.join();
  stream->Finish();
  ASSERT_GT(written, 500);
  EXPECT_LT(rss.Rise(), 8 << 20) << "the proxy's RSS rose while " << written
                                 << " messages of 64 KiB were written: " << rss.Describe();
}

TEST(OverloadTest, ManyCallsOnFewConnectionsKeepTheProxysMemoryFlat) {
  // 20,000 small unary calls on one connection: per-call state must not outlive the call
  // (the nghttp2 plane once kept about 300 bytes of every closed stream for the
  // connection's life, 6 MiB here).
  EchoBackend a("a");
  ProxyProcess proxy(OneWorkerConfig(a));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto channel = proxy.NewChannel();
  RssSamples rss(proxy.process().pid());
  std::atomic<int> done{0}, failed{0};
  constexpr int kCalls = 20000, kThreads = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto stub = Echo::NewStub(channel);
      for (int i = 0; i < kCalls / kThreads; ++i) {
        grpc::ClientContext ctx;
        EchoResponse response;
        if (!stub->Unary(&ctx, EchoRequest(), &response).ok()) ++failed;
      }
      ++done;
    });
  }
  while (done < kThreads) {
    rss.Take();
    absl::SleepFor(absl::Milliseconds(100));
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failed, 0);
  ASSERT_GE(rss.size(), 3u);
  EXPECT_LT(rss.Rise(), 2 << 20) << "the proxy's RSS rose over " << kCalls
                                 << " calls: " << rss.Describe();
}

}  // namespace
}  // namespace rollout::testing
