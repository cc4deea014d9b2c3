// The access log's lines (JSON and text, hostile values escaped and cut) and its writer:
// lines reach the file, a rotation (rename, then Reopen) moves the writing to a new file
// with nothing lost, and a disk that stops taking writes never blocks a worker: its lines
// are dropped and counted.
#include "proxy/access_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"

namespace rollout::proxy {
namespace {

using Format = routing::AccessLogSpec::Format;
using ::testing::HasSubstr;
using ::testing::Not;

AccessLogEntry Entry() {
  AccessLogEntry e;
  e.start_unix_ns = 1796195971123456789;  // 2026-12-02T07:19:31.123Z
  e.route = "infer";
  e.pool = "v2";
  e.endpoint = "10.0.0.7:8001";
  e.method = "/inference.GRPCInferenceService/ModelInfer";
  e.grpc_code = 14;
  e.duration_ns = 1'234'567;
  e.bytes_received = 120;
  e.bytes_sent = 96;
  e.request_id = "req-1";
  return e;
}

std::string Line(const AccessLogEntry& e, Format format) {
  std::string out;
  AppendAccessLogLine(e, format, &out);
  return out;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AccessLogLineTest, JsonHasEveryFieldOnOneLine) {
  const std::string line = Line(Entry(), Format::kJson);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time"], "2026-12-02T07:19:31.123Z");
  EXPECT_EQ(j["route"], "infer");
  EXPECT_EQ(j["pool"], "v2");
  EXPECT_EQ(j["endpoint"], "10.0.0.7:8001");
  EXPECT_EQ(j["method"], "/inference.GRPCInferenceService/ModelInfer");
  EXPECT_EQ(j["grpc_status"], "UNAVAILABLE");
  EXPECT_EQ(j["grpc_code"], 14);
  EXPECT_DOUBLE_EQ(j["duration_ms"].get<double>(), 1.235);
  EXPECT_EQ(j["bytes_received"], 120);
  EXPECT_EQ(j["bytes_sent"], 96);
  EXPECT_EQ(j["retries"], 0);
  EXPECT_EQ(j["request_id"], "req-1");
  EXPECT_FALSE(j.contains("traceparent"));  // the client sent none
}

TEST(AccessLogLineTest, HostileValuesAreEscapedAndCut) {
  AccessLogEntry e = Entry();
  const std::string evil = "a\"b\\c\nd\x01\xff" + std::string(1000, 'x');
  e.request_id = evil;
  e.method = "/x\"}\n{\"injected\":1";
  const std::string line = Line(e, Format::kJson);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  const nlohmann::json j = nlohmann::json::parse(line);  // valid JSON, valid UTF-8
  EXPECT_FALSE(j.contains("injected"));
  EXPECT_EQ(j["method"], "/x\"}\n{\"injected\":1");
  const std::string id = j["request_id"];
  EXPECT_EQ(id.substr(0, 10), "a\"b\\c\nd\x01\xc3\xbf");  // 0xff is written as U+00FF
  EXPECT_LT(line.size(), 800u);                           // cut at kMaxClientField
}

TEST(AccessLogLineTest, TextIsKeyValuePairsWithQuotedValuesWhereNeeded) {
  AccessLogEntry e = Entry();
  e.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  e.request_id = "has space";
  e.endpoint = "";
  EXPECT_EQ(Line(e, Format::kText),
            "time=2026-12-02T07:19:31.123Z route=infer pool=v2 endpoint=\"\" "
            "method=/inference.GRPCInferenceService/ModelInfer grpc_status=UNAVAILABLE "
            "grpc_code=14 duration_ms=1.235 bytes_received=120 bytes_sent=96 retries=0 "
            "request_id=\"has space\" "
            "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n");
}

// Waits until `path` holds `lines` lines.
bool WaitForLines(const std::string& path, size_t lines) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    const std::string text = Read(path);
    if (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= lines) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

TEST(AccessLogTest, AnUnopenableFileIsAnErrorNamingIt) {
  auto log = AccessLog::Open({.path = "/nonexistent/dir/access.log"}, 1);
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.status().message(),
              HasSubstr("access_log.path: cannot open /nonexistent/dir/access.log: No such file"));
}

TEST(AccessLogTest, LinesReachTheFileAndARotationLosesNone) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/access.log";
  auto log = AccessLog::Open({.path = path}, 2);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 50; ++i) (*log)->shard(i % 2)->Append(Entry());
  ASSERT_TRUE(WaitForLines(path, 50));
  // logrotate: rename, then SIGUSR1. Lines before the reopen go to the old file.
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  for (int i = 0; i < 10; ++i) (*log)->shard(0)->Append(Entry());
  (*log)->Reopen();
  for (int i = 0; i < 250 && access(path.c_str(), F_OK) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(access(path.c_str(), F_OK), 0) << "no new file after Reopen";
  for (int i = 0; i < 29; ++i) (*log)->shard(1)->Append(Entry());
  log->reset();  // writes what is pending
  const std::string old_text = Read(path + ".1"), new_text = Read(path);
  EXPECT_EQ(std::count(old_text.begin(), old_text.end(), '\n') +
                std::count(new_text.begin(), new_text.end(), '\n'),
            89);
  EXPECT_GE(std::count(old_text.begin(), old_text.end(), '\n'), 50);
}

TEST(AccessLogTest, SamplingKeepsAboutTheShareAndEveryErrorByDefault) {
  auto log = AccessLog::Open({.path = "/dev/null", .sample = 0.1}, 1);
  ASSERT_TRUE(log.ok());
  AccessLog::Shard* shard = (*log)->shard(0);
  int ok = 0, errors = 0;
  for (int i = 0; i < 20000; ++i) {
    ok += shard->Sampled(true);
    errors += shard->Sampled(false);
  }
  EXPECT_NEAR(ok, 2000, 200);
  EXPECT_EQ(errors, 20000);
}

// A writer stuck on the disk (here a FIFO nobody reads): workers' appends still return at
// once, the shard stops at kMaxPendingBytes, and the rest is dropped and counted.
TEST(AccessLogTest, AStuckDiskNeverBlocksAWorkerAndDropsAreCounted) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  const int reader = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  auto log = AccessLog::Open({.path = path}, 1);
  ASSERT_TRUE(log.ok()) << log.status();
  const std::string one = Line(Entry(), Format::kJson);
  const int n = static_cast<int>(3 * AccessLog::kMaxPendingBytes / one.size());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) (*log)->shard(0)->Append(Entry());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0) << "appends waited for the disk";
  const AccessLog::Counts c = (*log)->counts();
  EXPECT_GT(c.dropped, 0u);
  EXPECT_EQ(c.lines + c.dropped, static_cast<uint64_t>(n));
  // What was kept is written once the disk takes it again.
  std::thread drain([reader] {
    char buf[65536];
    for (;;) {
      const ssize_t r = ::read(reader, buf, sizeof buf);
      if (r == 0) return;  // the writer closed the FIFO
      if (r < 0) absl::SleepFor(absl::Milliseconds(1));
    }
  });
  log->reset();
  drain.join();
  ::close(reader);
}

}  // namespace
}  // namespace rollout::proxy
