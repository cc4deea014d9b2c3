// Frame-level mirroring under a shadow that never reads: the primary call is not slowed,
// the mirror's copy stays bounded (H2Mirror::kMaxBytes), and it is counted dropped. And a
// stream's shadow gets every message, with x-rollout-mirror set.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

// A backend that accepts TCP connections (the kernel does, up to the backlog) and never
// reads a byte: its HTTP/2 windows never open past the first 64 KiB.
class StuckBackend {
 public:
  StuckBackend() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~StuckBackend() { close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::string Config(const std::string& stable, const std::string& shadow) {
  return absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: stable, endpoints: ["@STABLE@"] }
  - { name: shadow, endpoints: ["@SHADOW@"] }
routes:
  - name: all
    mirror: { pool: shadow, percent: 100 }
    split: [ { pool: stable, weight: 1 } ]
)",
                             {{"@STABLE@", stable}, {"@SHADOW@", shadow}});
}

constexpr char kDropped[] =
    R"(rollout_proxy_mirror_results_total{route="all",pool="shadow",result="dropped"})";

TEST(MirrorBoundTest, AShadowThatNeverReadsIsDroppedWhileThePrimaryStreamsOn) {
  StuckBackend stuck;
  EchoBackend stable("stable");
  ProxyProcess proxy(Config(stable.address(), stuck.address()));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  const int64_t rss_before = proxy.process().RssKib();

  // 64 MiB on one stream, each message echoed: eight times what one mirror may hold.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  std::unique_ptr<grpc::ClientReaderWriter<EchoRequest, EchoResponse>> stream = stub->Bidi(&ctx);
  EchoRequest request;
  request.set_payload(std::string(512 * 1024, 'x'));
  EchoResponse response;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 128; ++i) {
    ASSERT_TRUE(stream->Write(request)) << "message " << i;
    ASSERT_TRUE(stream->Read(&response)) << "answer " << i;
  }
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.backend(), "stable");
  EXPECT_LT(absl::Now() - start, absl::Seconds(15)) << "the primary waited for the shadow";
  EXPECT_TRUE(WaitForMetric(proxy.metrics_port(), kDropped, 1)) << "the shadow was not dropped";
  const int64_t rise_kib = proxy.process().RssKib() - rss_before;
  EXPECT_LT(rise_kib, 40 * 1024) << "the proxy kept the shadow's copy: +" << rise_kib << " KiB";

  // Later calls are still served, and still mirrored (and dropped at the mirror's bound or
  // its deadline, never failing the primary).
  grpc::ClientContext unary;
  unary.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EchoRequest small;
  EXPECT_TRUE(stub->Unary(&unary, small, &response).ok());
}

TEST(MirrorBoundTest, TheShadowOfAStreamGetsEveryMessageMarkedAsAMirror) {
  EchoBackend stable("stable");
  EchoBackend twin("stable");  // the same answers, if it gets the same messages
  ProxyProcess proxy(Config(stable.address(), twin.address()));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  grpc::ClientContext ctx;
  EchoResponse response;
  std::unique_ptr<grpc::ClientWriter<EchoRequest>> writer = stub->ClientStream(&ctx, &response);
  EchoRequest request;
  for (int i = 0; i < 7; ++i) {
    request.set_payload(std::string(1000 * (i + 1), static_cast<char>('a' + i)));
    ASSERT_TRUE(writer->Write(request));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(response.index(), 7);
  // ClientStream answers with every payload it got, in order: equal answers mean the
  // shadow saw the same seven messages.
  EXPECT_TRUE(WaitForMetric(
      proxy.metrics_port(),
      R"(rollout_proxy_mirror_results_total{route="all",pool="shadow",result="match"})", 1));
  EXPECT_EQ(twin.total_calls(), 1);
  const auto shadow_seen = twin.last_metadata();
  const auto it = shadow_seen.find("x-rollout-mirror");
  ASSERT_NE(it, shadow_seen.end()) << "the shadow call was not marked";
  EXPECT_EQ(it->second, "1");
  EXPECT_EQ(stable.last_metadata().count("x-rollout-mirror"), 0u);
}

}  // namespace
}  // namespace rollout::testing
