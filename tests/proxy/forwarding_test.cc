// End to end through a real rollout-proxy process to in-process Echo backends: every
// streaming kind, metadata both ways, deadlines, cancellation, status pass-through, large
// messages, unreachable pools, unknown methods and clients that vanish mid-stream.
#include <dirent.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/generic_call.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

int OpenFds(pid_t pid) {
  int n = 0;
  if (DIR* dir = opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (readdir(dir) != nullptr) ++n;
    closedir(dir);
  }
  return n;
}

std::string Header(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                   const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? "<absent>" : std::string(it->second.data(), it->second.size());
}

class ForwardingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    a_ = new EchoBackend("a");
    b_ = new EchoBackend("b");
    slow_ = new DemoServerProcess({"--version", "slow", "--extra-latency-ms", "200"});
    proxy_ =
        new ProxyProcess(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 2
drain_timeout: 2s
pools:
  - { name: a, endpoints: ["A"] }
  - { name: b, endpoints: ["B"] }
  - { name: down, endpoints: ["DOWN"] }
  - { name: slow, endpoints: ["SLOW"] }
routes:
  - name: inference
    match: { method_prefix: /inference. }
    split: [ { pool: slow, weight: 1 } ]
  - name: down
    match: { method_prefix: /down. }
    split: [ { pool: down, weight: 1 } ]
  - name: echo
    match: { method_prefix: /rollout.testing.Echo/ }
    split: [ { pool: a, weight: 100 }, { pool: b, weight: 0 } ]
)",
                                             {{"A", a_->address()},
                                              {"B", b_->address()},
                                              {"SLOW", slow_->address()},
                                              {"DOWN", absl::StrCat("127.0.0.1:", UnusedPort())}}));
  }
  static void TearDownTestSuite() {
    delete proxy_;
    delete a_;
    delete b_;
    delete slow_;
  }
  void SetUp() override {
    ASSERT_TRUE(slow_->ok());
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
    channel_ = proxy_->NewChannel();
    stub_ = Echo::NewStub(channel_);
  }

  static EchoBackend* a_;
  static EchoBackend* b_;
  static DemoServerProcess* slow_;  // a real model server that takes 200 ms per call
  static ProxyProcess* proxy_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Echo::Stub> stub_;
};
EchoBackend* ForwardingTest::a_;
EchoBackend* ForwardingTest::b_;
DemoServerProcess* ForwardingTest::slow_;
ProxyProcess* ForwardingTest::proxy_;

TEST_F(ForwardingTest, UnaryCarriesPayloadPoolHeaderAuthorityAndTrailers) {
  grpc::ClientContext ctx;
  ctx.set_authority("models.example.com");
  EchoRequest request;
  request.set_payload("ping");
  EchoResponse response;
  grpc::Status status = stub_->Unary(&ctx, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.payload(), "ping");
  EXPECT_EQ(response.backend(), "a");
  EXPECT_EQ(response.authority(), "models.example.com");
  EXPECT_EQ(Header(ctx.GetServerInitialMetadata(), "x-rollout-pool"), "a");
  EXPECT_EQ(Header(ctx.GetServerTrailingMetadata(), "x-backend"), "a");
}

TEST_F(ForwardingTest, MetadataCrossesBothWaysWithoutHopByHopKeys) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-user-id", "user-17");
  ctx.AddMetadata("x-multi", "one");
  ctx.AddMetadata("x-multi", "two");
  const std::string binary("\x00\x01\xfe\xff", 4);
  ctx.AddMetadata("x-trace-bin", binary);
  EchoRequest request;
  EchoResponse response;
  ASSERT_TRUE(stub_->Unary(&ctx, request, &response).ok());

  auto seen = a_->last_metadata();
  EXPECT_EQ(seen.find("x-user-id")->second, "user-17");
  EXPECT_EQ(seen.count("x-multi"), 2u);
  EXPECT_EQ(seen.find("x-trace-bin")->second, binary);
  EXPECT_LE(seen.count("user-agent"), 1u) << "user-agent is hop-by-hop and must not be doubled";
  EXPECT_EQ(seen.count("x-rollout-pool"), 0u);
  // The backend's response headers come back to the client.
  EXPECT_EQ(Header(ctx.GetServerInitialMetadata(), "echo-x-user-id"), "user-17");
  EXPECT_EQ(ctx.GetServerInitialMetadata().count("echo-x-multi"), 2u);
}

TEST_F(ForwardingTest, ClientStreaming) {
  grpc::ClientContext ctx;
  EchoResponse response;
  auto writer = stub_->ClientStream(&ctx, &response);
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    EchoRequest request;
    request.set_payload(absl::StrCat("m", i, ";"));
    expected += request.payload();
    ASSERT_TRUE(writer->Write(request));
  }
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(response.payload(), expected);
  EXPECT_EQ(response.index(), 50);
  EXPECT_EQ(Header(ctx.GetServerInitialMetadata(), "x-rollout-pool"), "a");
}

TEST_F(ForwardingTest, ClientStreamingWithNoMessages) {
  grpc::ClientContext ctx;
  EchoResponse response;
  auto writer = stub_->ClientStream(&ctx, &response);
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(response.index(), 0);
  EXPECT_EQ(response.backend(), "a");
}

TEST_F(ForwardingTest, ServerStreaming) {
  grpc::ClientContext ctx;
  EchoRequest request;
  request.set_payload("tick");
  request.set_response_count(20);
  auto reader = stub_->ServerStream(&ctx, request);
  EchoResponse response;
  int n = 0;
  while (reader->Read(&response)) {
    EXPECT_EQ(response.index(), n++);
    EXPECT_EQ(response.payload(), "tick");
  }
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(n, 20);
  EXPECT_EQ(Header(ctx.GetServerTrailingMetadata(), "x-backend"), "a");
}

TEST_F(ForwardingTest, BidiPingPong) {
  grpc::ClientContext ctx;
  auto stream = stub_->Bidi(&ctx);
  for (int i = 0; i < 100; ++i) {
    EchoRequest request;
    request.set_payload(absl::StrCat("ping ", i));
    ASSERT_TRUE(stream->Write(request));
    EchoResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(response.payload(), request.payload());
    EXPECT_EQ(response.index(), i);
  }
  ASSERT_TRUE(stream->WritesDone());
  EchoResponse extra;
  EXPECT_FALSE(stream->Read(&extra));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ForwardingTest, MessagesOverFourMebibytes) {
  std::string big(5 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + 7);
  grpc::ClientContext ctx;
  EchoRequest request;
  request.set_payload(big);
  EchoResponse response;
  grpc::Status status = stub_->Unary(&ctx, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.payload() == big) << "payload changed in transit";

  grpc::ClientContext stream_ctx;
  auto stream = stub_->Bidi(&stream_ctx);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(stream->Write(request));
    EchoResponse echoed;
    ASSERT_TRUE(stream->Read(&echoed));
    EXPECT_EQ(echoed.payload().size(), big.size());
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ForwardingTest, DeadlineEndsTheCallEarlyAndCancelsTheBackend) {
  const int cancelled_before = a_->cancelled_calls();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
  EchoRequest request;
  request.set_sleep_ms(500);
  EchoResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = stub_->Unary(&ctx, request, &response);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(took, absl::Milliseconds(300));
  // The deadline went upstream with the call, so the backend stops working on it.
  EXPECT_TRUE(
      a_->WaitFor([&] { return a_->cancelled_calls() > cancelled_before; }, absl::Seconds(2)));
}

TEST_F(ForwardingTest, ClientCancelReachesTheBackend) {
  const int cancelled_before = a_->cancelled_calls();
  grpc::ClientContext ctx;
  EchoRequest request;
  request.set_response_count(1000);
  request.set_sleep_ms(20);
  auto reader = stub_->ServerStream(&ctx, request);
  EchoResponse response;
  ASSERT_TRUE(reader->Read(&response));
  ctx.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(
      a_->WaitFor([&] { return a_->cancelled_calls() > cancelled_before; }, absl::Seconds(2)));
  EXPECT_TRUE(a_->WaitFor([&] { return a_->active_calls() == 0; }, absl::Seconds(2)));
}

TEST_F(ForwardingTest, StatusMessageAndBinaryDetailsPassThrough) {
  const std::string details("\x08\x09\x12\x00\xff details", 11);
  grpc::ClientContext ctx;
  EchoRequest request;
  request.set_fail_code(grpc::StatusCode::FAILED_PRECONDITION);
  request.set_fail_message("model is warming up");
  request.set_fail_details(details);
  EchoResponse response;
  grpc::Status status = stub_->Unary(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "model is warming up");
  EXPECT_EQ(status.error_details(), details);
  EXPECT_EQ(Header(ctx.GetServerTrailingMetadata(), "x-backend"), "a");
  EXPECT_EQ(ctx.GetServerTrailingMetadata().count("grpc-status-details-bin"), 1u)
      << "details must arrive once, not duplicated";
}

TEST_F(ForwardingTest, StreamThatFailsAfterMessagesKeepsBoth) {
  grpc::ClientContext ctx;
  EchoRequest request;
  request.set_response_count(3);
  request.set_fail_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
  request.set_fail_message("queue full");
  auto reader = stub_->ServerStream(&ctx, request);
  EchoResponse response;
  int n = 0;
  while (reader->Read(&response)) ++n;
  grpc::Status status = reader->Finish();
  EXPECT_EQ(n, 3);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(), "queue full");
}

TEST_F(ForwardingTest, UnreachablePoolIsUnavailableNamingThePool) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status status = CallGeneric(channel_, "/down.Service/Call", &ctx);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("pool \"down\""));
  EXPECT_EQ(Header(ctx.GetServerInitialMetadata(), "x-rollout-pool"), "down");
}

TEST_F(ForwardingTest, UnroutedMethodIsUnimplementedNamingTheMethod) {
  grpc::ClientContext ctx;
  grpc::Status status = CallGeneric(channel_, "/nothing.Here/Call", &ctx);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("/nothing.Here/Call"));
}

TEST_F(ForwardingTest, ClientsVanishingMidStreamLeakNothing) {
  // Warm up so that the fd count includes the proxy's steady-state connections.
  {
    grpc::ClientContext ctx;
    EchoResponse response;
    ASSERT_TRUE(stub_->Unary(&ctx, EchoRequest(), &response).ok());
  }
  const int fds_before = OpenFds(proxy_->process().pid());
  for (int round = 0; round < 200; ++round) {
    grpc::ClientContext ctx;
    auto stream = stub_->Bidi(&ctx);
    EchoRequest request;
    request.set_payload("x");
    ASSERT_TRUE(stream->Write(request));
    EchoResponse response;
    ASSERT_TRUE(stream->Read(&response));
    if (round % 2 == 0) {
      ctx.TryCancel();  // cancel mid-stream
    } else {
      request.set_sleep_ms(200);  // leave while the backend is still busy
      stream->Write(request);
      ctx.TryCancel();
    }
    stream->Finish();
  }
  // Every upstream call was cancelled, not left running on the backend.
  EXPECT_TRUE(a_->WaitFor([&] { return a_->active_calls() == 0; }, absl::Seconds(5)))
      << a_->active_calls() << " calls still open on the backend";
  EXPECT_LE(OpenFds(proxy_->process().pid()), fds_before + 2);
  // And the proxy keeps serving.
  grpc::ClientContext ctx;
  EchoResponse response;
  EXPECT_TRUE(stub_->Unary(&ctx, EchoRequest(), &response).ok());
  EXPECT_TRUE(proxy_->process().running());
}

TEST_F(ForwardingTest, ClientProcessKilledWithCallsInFlight) {
  // A client that dies (SIGKILL) drops its TCP connection under open calls, with no cancel
  // sent. The proxy must release those calls and their upstream halves.
  const int fds_before = OpenFds(proxy_->process().pid());
  for (int round = 0; round < 3; ++round) {
    ChildProcess client({kDemoClientBin, "--target", proxy_->address(), "--rate", "0",
                         "--concurrency", "8", "--duration", "30s"});
    ASSERT_FALSE(client.WaitForLine("sending ModelInfer", absl::Seconds(5)).empty())
        << client.Log();
    absl::SleepFor(absl::Milliseconds(300));  // calls to the slow pool are in flight now
    client.Signal(SIGKILL);
    client.WaitForExit(absl::Seconds(5));
  }
  EXPECT_TRUE(proxy_->process().running());
  // The dropped client connections are closed, and nothing else piles up.
  bool settled = false;
  for (int i = 0; i < 100 && !settled; ++i) {
    settled = OpenFds(proxy_->process().pid()) <= fds_before + 2;
    if (!settled) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(settled) << OpenFds(proxy_->process().pid()) << " fds open, " << fds_before
                       << " before";
  grpc::ClientContext ctx;
  EchoResponse response;
  EXPECT_TRUE(stub_->Unary(&ctx, EchoRequest(), &response).ok());
}

}  // namespace
}  // namespace rollout::testing
