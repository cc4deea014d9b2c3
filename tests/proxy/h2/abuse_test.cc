// Hostile clients on the frame-level data plane, sent frame by frame (RawH2Client): invalid
// fields, oversized and HPACK-bomb header blocks, too many streams, Rapid Reset, floods of
// CONTINUATION, empty DATA, PING and SETTINGS frames, silent and idle connections, too many
// connections. For each: what the attacker sees, that nothing reached the backend (or that
// it is bounded), the counter in /metrics, and that another client's calls still work.
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"
#include "tests/support/raw_h2_client.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Lt;

constexpr char kUnary[] = "/rollout.testing.Echo/Unary";

std::string Violation(const std::string& v) {
  return absl::StrCat("rollout_proxy_http2_violations_total{violation=\"", v, "\"}");
}
std::string Timeout(const std::string& t) {
  return absl::StrCat("rollout_proxy_downstream_timeouts_total{timeout=\"", t, "\"}");
}
std::string Rejected(const std::string& r) {
  return absl::StrCat("rollout_proxy_downstream_connections_rejected_total{reason=\"", r, "\"}");
}
std::string Requests(const std::string& code) {
  return absl::StrCat("rollout_proxy_requests_total{grpc_code=\"", code, "\"}");
}

class AbuseTest : public ::testing::Test {
 protected:
  // A proxy on the frame-level plane, one worker, in front of backend_; `extra` is added
  // to its config and `pool_extra` to the pool.
  void Start(const std::string& extra = "", const std::string& pool_extra = "") {
    proxy_ = std::make_unique<ProxyProcess>(
        absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: a, endpoints: ["@A@"] @POOL@ }
routes:
  - name: all
    split: [ { pool: a, weight: 1 } ]
@EXTRA@)",
                            {{"@A@", backend_.address()},
                             {"@POOL@", pool_extra.empty() ? "" : ", " + pool_extra},
                             {"@EXTRA@", extra}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
  }

  int64_t Metric(const std::string& selector) {
    return MetricSum(proxy_->metrics_port(), selector);
  }
  bool WaitForMetric(const std::string& selector, int64_t want) {
    return testing::WaitForMetric(proxy_->metrics_port(), selector, want);
  }

  // The proxy's resident memory.
  int64_t RssKib() { return proxy_->process().RssKib(); }

  // Another client's call through the proxy still works.
  void ExpectStillServing() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    EchoRequest request;
    EchoResponse response;
    const grpc::Status status =
        Echo::NewStub(proxy_->NewChannel())->Unary(&ctx, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message() << "\n" << proxy_->Log();
    EXPECT_EQ(response.backend(), "a");
  }

  EchoBackend backend_{"a"};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(AbuseTest, InvalidFieldsResetTheStreamAndNeverReachTheBackend) {
  Start();
  const RawH2Client::Fields bad[] = {
      {{"X-Upper", "1"}},
      {{"x bad", "1"}},
      {{"x-crlf", "a\r\nx-evil: 1"}},
      {{"x-nul", std::string("a\0b", 3)}},
      {{"connection", "keep-alive"}},
      {{":unknown", "1"}},
      {{"x-trace-bin", "!!!notbase64"}},
      {{"te", "gzip"}},
  };
  for (const RawH2Client::Fields& fields : bad) {
    RawH2Client c(proxy_->port());
    c.Send(RawH2Client::Preface());
    c.Send(RawH2Client::Headers(1, RawH2Client::GrpcRequest(kUnary, fields), false));
    c.Send(RawH2Client::Data(1, RawH2Client::GrpcMessage(""), true));
    const RawH2Client::Stream s = c.Wait(1, absl::Seconds(5));
    EXPECT_TRUE(s.reset || c.got_goaway()) << fields[0].first;
    EXPECT_EQ(s.fields.count("grpc-status"), 0u) << fields[0].first;
    if (s.reset) EXPECT_EQ(s.reset_code, NGHTTP2_PROTOCOL_ERROR) << fields[0].first;
  }
  EXPECT_EQ(backend_.total_calls(), 0);
  EXPECT_GE(Metric(Violation("invalid_header")), 8);
  ExpectStillServing();

  // A -bin value that is base64 (padded or not) passes.
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  c.Send(RawH2Client::Headers(
      1, RawH2Client::GrpcRequest(kUnary, {{"x-a-bin", "AAEC"}, {"x-b-bin", "AA"}}), false));
  c.Send(RawH2Client::Data(1, RawH2Client::GrpcMessage(""), true));
  EXPECT_EQ(c.Wait(1, absl::Seconds(5)).fields["grpc-status"], "0");
}

TEST_F(AbuseTest, AnInvalidBinValueNeverBreaksAnotherClientsCallOnTheSameBackendConnection) {
  Start();  // one worker: every client shares its one connection to the backend
  grpc::ClientContext slow;
  slow.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto channel = proxy_->NewChannel();
  EchoRequest request;
  request.set_sleep_ms(1500);
  EchoResponse response;
  auto stub = Echo::NewStub(channel);
  std::thread other([&] {
    const grpc::Status status = stub->Unary(&slow, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  });
  ASSERT_TRUE(backend_.WaitFor([&] { return backend_.active_calls() == 1; }, absl::Seconds(5)));
  for (int i = 0; i < 20; ++i) {
    RawH2Client c(proxy_->port());
    c.Send(RawH2Client::Preface());
    c.Send(RawH2Client::Headers(1, RawH2Client::GrpcRequest(kUnary, {{"x-bad-bin", "%%%"}}), true));
    EXPECT_TRUE(c.Wait(1, absl::Seconds(5)).reset);
  }
  other.join();
  EXPECT_EQ(backend_.total_calls(), 1);
}

TEST_F(AbuseTest, AHeaderListOverTheLimitIsRefusedAndNeverEjectsTheBackend) {
  Start(R"(
connections: { max_header_list_bytes: 4096 }
)",
        "outlier_detection: { consecutive_failures: 1 }");
  for (int i = 0; i < 5; ++i) {
    RawH2Client c(proxy_->port());
    c.Send(RawH2Client::Preface());
    // 60 KiB on the wire: over the limit here, and over what nghttp2 sends to a backend.
    c.Send(RawH2Client::Headers(
        1, RawH2Client::GrpcRequest(kUnary, {{"x-big", std::string(5000, 'a')}}), true));
    RawH2Client::Stream s = c.Wait(1, absl::Seconds(5));
    EXPECT_EQ(s.fields["grpc-status"], "8");
    EXPECT_THAT(s.fields["grpc-message"], HasSubstr("max_header_list_bytes"));
    EXPECT_EQ(c.server_settings().at(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE), 4096u);
  }
  EXPECT_EQ(backend_.total_calls(), 0);
  EXPECT_EQ(Metric(Violation("header_list_too_large")), 5);
  EXPECT_EQ(Metric(absl::StrCat("rollout_proxy_endpoint_healthy{endpoint=\"", backend_.address(),
                                "\",pool=\"a\"}")),
            1);
  ExpectStillServing();
}

TEST_F(AbuseTest, AnHpackBombCostsTheProxyNoMemory) {
  Start();
  const int64_t before = RssKib();
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  // One 4000-byte field into the dynamic table, then 12,000 one-byte references to it: a
  // 12 KB block that decodes to 48 MB. Four of them.
  for (int32_t stream = 1; stream <= 7; stream += 2) {
    std::string block = RawH2Client::GrpcRequest(kUnary) +
                        RawH2Client::IndexedLiteral("x-bomb", std::string(4000, 'b'));
    block += std::string(12000, '\xbe');  // indexed field 62: the newest table entry
    c.Send(RawH2Client::Headers(stream, block.substr(0, 16000), true,
                                /*end_headers=*/block.size() <= 16000));
    c.Send(RawH2Client::Continuation(stream, block.substr(16000), true));
    EXPECT_EQ(c.Wait(stream, absl::Seconds(10)).fields["grpc-status"], "8");
  }
  EXPECT_THAT(RssKib() - before, Lt(10 * 1024)) << "KiB more after the bombs";
  EXPECT_EQ(backend_.total_calls(), 0);
  ExpectStillServing();
}

TEST_F(AbuseTest, StreamsOverMaxConcurrentStreamsAreRefused) {
  Start(R"(
connections: { max_concurrent_streams: 10 }
)");
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  c.Pump(absl::Milliseconds(200));  // the server's SETTINGS, acknowledged
  EXPECT_EQ(c.server_settings().at(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS), 10u);
  EchoRequest request;
  request.set_sleep_ms(1000);
  std::string body;
  request.SerializeToString(&body);
  auto open = [&](int32_t from, int32_t to) {  // each call lasts a second
    std::string frames;
    for (int32_t i = from; i < to; ++i) {
      frames += RawH2Client::Headers(2 * i + 1, RawH2Client::GrpcRequest(kUnary), false) +
                RawH2Client::Data(2 * i + 1, RawH2Client::GrpcMessage(body), true);
    }
    c.Send(frames);
  };
  open(0, 10);
  EXPECT_TRUE(backend_.WaitFor([&] { return backend_.active_calls() == 10; }, absl::Seconds(5)));
  open(10, 30);
  int most = 0;
  for (int i = 0; i < 20; ++i) {
    c.Pump(absl::Milliseconds(50));
    most = std::max(most, backend_.active_calls());
  }
  EXPECT_LE(most, 10) << "calls at the backend at once";
  // Once the client has acknowledged the limit, nghttp2 ends the connection (RFC 9113
  // allows a stream or a connection error).
  EXPECT_TRUE(c.got_goaway());
  EXPECT_EQ(c.goaway_code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_GE(Metric(Violation("too_many_streams")), 1);
  ExpectStillServing();
}

TEST_F(AbuseTest, RapidResetClosesTheConnectionAndBoundsWhatReachesTheBackend) {
  Start();
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  const std::string block = RawH2Client::GrpcRequest(kUnary);
  for (int32_t batch = 0; batch < 40 && !c.peer_closed(); ++batch) {
    std::string frames;
    for (int32_t i = 0; i < 50; ++i) {
      const int32_t id = 2 * (batch * 50 + i) + 1;
      frames += RawH2Client::Headers(id, block, false) + RawH2Client::RstStream(id, NGHTTP2_CANCEL);
    }
    if (!c.Send(frames)) break;
    c.Pump(absl::Milliseconds(5));
  }
  EXPECT_TRUE(c.WaitForClose(absl::Seconds(5)));
  EXPECT_TRUE(c.got_goaway());
  EXPECT_EQ(c.goaway_code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(Metric(Violation("rapid_reset")), 1);
  EXPECT_LE(backend_.total_calls(), 600);
  EXPECT_LE(Metric(Requests("CANCELLED")), 600);
  ExpectStillServing();
}

TEST_F(AbuseTest, AFloodOfContinuationFramesClosesTheConnection) {
  Start();
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  std::string frames = RawH2Client::Headers(1, RawH2Client::GrpcRequest(kUnary), false,
                                            /*end_headers=*/false);
  for (int i = 0; i < 1000; ++i) frames += RawH2Client::Continuation(1, "", false);
  c.Send(frames);
  EXPECT_TRUE(c.WaitForClose(absl::Seconds(5)));
  EXPECT_EQ(Metric(Violation("continuation_flood")), 1);
  EXPECT_EQ(backend_.total_calls(), 0);
  ExpectStillServing();
}

TEST_F(AbuseTest, AFloodOfEmptyDataFramesClosesTheConnection) {
  Start();
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  std::string frames = RawH2Client::Headers(1, RawH2Client::GrpcRequest(kUnary), false);
  for (int i = 0; i < 10000; ++i) frames += RawH2Client::Data(1, "", false);
  c.Send(frames);
  EXPECT_TRUE(c.WaitForClose(absl::Seconds(5)));
  EXPECT_EQ(c.goaway_code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(Metric(Violation("empty_frames")), 1);
  ExpectStillServing();
}

TEST_F(AbuseTest, PingAndSettingsFloodsFromAClientThatNeverReadsAreCutOff) {
  Start();
  const int64_t before = RssKib();
  for (const std::string& frame :
       {RawH2Client::Ping(), RawH2Client::Frame(NGHTTP2_SETTINGS, 0, 0, "")}) {
    RawH2Client c(proxy_->port(), /*receive_buffer=*/4096);
    c.Send(RawH2Client::Preface());
    std::string burst;
    for (int i = 0; i < 10000; ++i) burst += frame;
    // Never read: the acknowledgements pile up in the proxy until it gives up on us.
    for (int i = 0; i < 100; ++i) {
      if (!c.Send(burst)) break;
    }
    EXPECT_TRUE(c.WaitForClose(absl::Seconds(10)));
  }
  EXPECT_EQ(Metric(Violation("flood")), 2);
  EXPECT_THAT(RssKib() - before, Lt(10 * 1024)) << "KiB more after the floods";
  ExpectStillServing();
}

TEST_F(AbuseTest, SilentConnectionsAndUnfinishedHeaderBlocksTimeOut) {
  Start(R"(
connections: { handshake_timeout: 500ms }
)");
  RawH2Client silent(proxy_->port());
  RawH2Client slow(proxy_->port());
  slow.Send(RawH2Client::Preface());
  slow.Send(RawH2Client::Headers(1, RawH2Client::GrpcRequest(kUnary), false,
                                 /*end_headers=*/false));
  EXPECT_TRUE(silent.WaitForClose(absl::Seconds(3)));
  EXPECT_TRUE(slow.WaitForClose(absl::Seconds(3)));
  EXPECT_EQ(Metric(Timeout("handshake")), 1);
  EXPECT_EQ(Metric(Timeout("header")), 1);
  EXPECT_EQ(backend_.total_calls(), 0);
  ExpectStillServing();
}

TEST_F(AbuseTest, IdleConnectionsGetGoawayButBusyOnesStay) {
  Start(R"(
connections: { idle_timeout: 1s }
)");
  RawH2Client idle(proxy_->port());
  idle.Send(RawH2Client::Preface());
  RawH2Client busy(proxy_->port());
  busy.Send(RawH2Client::Preface());
  // A call that lasts 2.5 s: the connection is not idle meanwhile.
  EchoRequest request;
  request.set_sleep_ms(2500);
  std::string body;
  request.SerializeToString(&body);
  busy.Send(RawH2Client::Headers(1, RawH2Client::GrpcRequest(kUnary), false));
  busy.Send(RawH2Client::Data(1, RawH2Client::GrpcMessage(body), true));

  EXPECT_TRUE(idle.WaitForClose(absl::Seconds(4)));
  EXPECT_TRUE(idle.got_goaway());
  EXPECT_EQ(idle.goaway_code(), NGHTTP2_NO_ERROR);
  const RawH2Client::Stream s = busy.Wait(1, absl::Seconds(5));
  EXPECT_EQ(s.fields.at("grpc-status"), "0");
  EXPECT_GE(Metric(Timeout("idle")), 1);

  // Idle again, it gets its GOAWAY; a stream opened after that never becomes a call.
  const absl::Time end = absl::Now() + absl::Seconds(4);
  while (!busy.got_goaway() && !busy.peer_closed() && absl::Now() < end) {
    busy.Pump(absl::Milliseconds(100));
  }
  ASSERT_TRUE(busy.got_goaway());
  const int before = backend_.total_calls();
  busy.Send(RawH2Client::Headers(3, RawH2Client::GrpcRequest(kUnary), false));
  busy.Send(RawH2Client::Data(3, RawH2Client::GrpcMessage(""), true));
  busy.Pump(absl::Milliseconds(500));
  EXPECT_EQ(busy.stream(3).fields.count("grpc-status"), 0u);
  EXPECT_EQ(backend_.total_calls(), before);
}

TEST_F(AbuseTest, ConnectionsOverMaxConnectionsAreClosedAtOnce) {
  Start(R"(
connections: { max_connections: 5 }
)");
  std::vector<std::unique_ptr<RawH2Client>> held;
  for (int i = 0; i < 5; ++i) {
    held.push_back(std::make_unique<RawH2Client>(proxy_->port()));
    held.back()->Send(RawH2Client::Preface());
    held.back()->Pump(absl::Milliseconds(100));
    ASSERT_FALSE(held.back()->peer_closed()) << i;
  }
  RawH2Client extra(proxy_->port());
  extra.Send(RawH2Client::Preface());
  EXPECT_TRUE(extra.WaitForClose(absl::Seconds(3)));
  EXPECT_EQ(Metric(Rejected("max_connections")), 1);
  EXPECT_EQ(Metric("rollout_proxy_downstream_connections"), 5);
  held.clear();
  // Room again once they are gone.
  ASSERT_TRUE(WaitForMetric("rollout_proxy_downstream_connections", 0));
  ExpectStillServing();
}

// With its descriptors used up, the proxy must not spin on a failing accept(): it stops
// watching the listening socket for a while, and serves again once descriptors are free.
TEST(AcceptBackoffTest, OutOfDescriptorsTheListenerBacksOffInsteadOfSpinning) {
  EchoBackend backend("a");
  TempDir dir;
  const std::string config =
      dir.WriteFile("proxy.yaml", absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
metrics: { listen: 127.0.0.1:0 }
pools: [ { name: a, endpoints: ["@A@"] } ]
routes: [ { name: all, split: [ { pool: a, weight: 1 } ] } ]
)",
                                                      {{"@A@", backend.address()}}));
  ChildProcess proxy({"/usr/bin/prlimit", "--nofile=64", kProxyBin, "--config", config});
  int port = 0, metrics_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      proxy.WaitForLine(R"(data plane listening on [0-9.]+:(\d+))", absl::Seconds(10)), &port))
      << proxy.Log();
  ASSERT_TRUE(absl::SimpleAtoi(
      proxy.WaitForLine(R"(metrics listening on [0-9.]+:(\d+))", absl::ZeroDuration()),
      &metrics_port));
  {
    // One connection's whole life first, while descriptors are plenty: UBSan's vptr checks
    // need a pipe the first time they see a type, and would report a false error later.
    RawH2Client warm_up(port);
    warm_up.Send(RawH2Client::Preface());
    warm_up.Pump(absl::Milliseconds(100));
  }
  absl::SleepFor(absl::Milliseconds(200));
  std::vector<std::unique_ptr<RawH2Client>> clients;
  for (int i = 0; i < 100; ++i) {  // more than the proxy can hold: the rest wait in the backlog
    clients.push_back(std::make_unique<RawH2Client>(port));
    clients.back()->Send(RawH2Client::Preface());
  }
  absl::SleepFor(absl::Milliseconds(500));
  auto cpu_ticks = [&] {
    std::ifstream stat(absl::StrCat("/proc/", proxy.pid(), "/stat"));
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::vector<std::string> fields = absl::StrSplit(text.substr(text.rfind(')') + 2), ' ');
    int64_t utime = 0, stime = 0;
    if (!absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime)) {
      return int64_t{-1};
    }
    return utime + stime;
  };
  const int64_t before = cpu_ticks();
  absl::SleepFor(absl::Seconds(2));
  const int64_t used = cpu_ticks() - before;
  EXPECT_LT(used, sysconf(_SC_CLK_TCK) / 4) << "CPU ticks in 2 s with the backlog full";
  clients.clear();  // the metrics server needs a descriptor too
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<std::string> page = HttpGet(metrics_port, "/metrics");
  for (int i = 0; i < 50 && !page.ok(); ++i) {  // its HTTP server takes its time to recover
    absl::SleepFor(absl::Milliseconds(100));
    page = HttpGet(metrics_port, "/metrics");
  }
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(*page, ::testing::Not(HasSubstr(
                         "rollout_proxy_downstream_connections_rejected_total{reason=\"accept_"
                         "error\"} 0")));
  // Descriptors are free again: a new client is served.
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EchoRequest request;
  EchoResponse response;
  const grpc::Status status = Echo::NewStub(channel)->Unary(&ctx, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message() << "\n" << proxy.Log();
}

}  // namespace
}  // namespace rollout::testing
