// Bad input on the data port, sent byte by byte with a raw HTTP/2 client (nghttp2): bytes
// that are not HTTP/2, a message cut short, a model_name that is not protobuf, and a burst
// of streams reset as soon as they open. Each must be refused or dropped on its own, and
// the proxy must go on serving. Runs on both data planes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/generic_call.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

// A blocking HTTP/2 client on one socket, driven by hand.
class RawH2 {
 public:
  explicit RawH2(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    nghttp2_session_callbacks* cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
               const uint8_t* value, size_t valuelen, uint8_t, void* self) {
          static_cast<RawH2*>(self)
              ->streams_[frame->hd.stream_id]
              .fields[std::string(reinterpret_cast<const char*>(name), namelen)] =
              std::string(reinterpret_cast<const char*>(value), valuelen);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t stream_id, uint32_t error_code, void* self) {
          auto& s = static_cast<RawH2*>(self)->streams_[stream_id];
          s.closed = true;
          s.reset_code = error_code;
          return 0;
        });
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~RawH2() {
    nghttp2_session_del(session_);
    ::close(fd_);
  }
  bool connected() const { return connected_; }

  void SendRaw(const std::string& bytes) { (void)!::send(fd_, bytes.data(), bytes.size(), 0); }

  // A gRPC request on `path` whose DATA is `body` (sent as is); half-closed if `end`.
  int32_t Request(const std::string& path, std::string body, bool end) {
    bodies_.push_back(std::make_unique<Body>(Body{std::move(body), 0, end}));
    nghttp2_nv nva[] = {Nv(":method", "POST"),
                        Nv(":scheme", "http"),
                        Nv(":path", path.c_str()),
                        Nv(":authority", "127.0.0.1"),
                        Nv("content-type", "application/grpc"),
                        Nv("te", "trailers")};
    nghttp2_data_provider provider;
    provider.source.ptr = bodies_.back().get();
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                uint32_t* flags, nghttp2_data_source* source, void*) -> ssize_t {
      auto* b = static_cast<Body*>(source->ptr);
      const size_t n = std::min(length, b->bytes.size() - b->at);
      memcpy(buf, b->bytes.data() + b->at, n);
      b->at += n;
      if (b->at == b->bytes.size()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!b->end) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
      return static_cast<ssize_t>(n);
    };
    const int32_t id = nghttp2_submit_request(session_, nullptr, nva, 6, &provider, nullptr);
    Pump(absl::ZeroDuration());
    return id;
  }
  void Reset(int32_t stream) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, NGHTTP2_CANCEL);
    Pump(absl::ZeroDuration());
  }

  struct Stream {
    std::map<std::string, std::string> fields;  // headers and trailers
    bool closed = false;
    uint32_t reset_code = 0;
  };
  // Runs the connection until `stream` is closed (or the time is up).
  Stream Wait(int32_t stream, absl::Duration timeout) {
    const absl::Time end = absl::Now() + timeout;
    while (!streams_[stream].closed && !peer_closed_ && absl::Now() < end) {
      Pump(absl::Milliseconds(50));
    }
    return streams_[stream];
  }
  // True once the peer has closed the connection.
  bool WaitForClose(absl::Duration timeout) {
    const absl::Time end = absl::Now() + timeout;
    while (!peer_closed_ && absl::Now() < end) Pump(absl::Milliseconds(50));
    return peer_closed_;
  }

 private:
  struct Body {
    std::string bytes;
    size_t at;
    bool end;
  };
  static nghttp2_nv Nv(const char* name, const char* value) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
            reinterpret_cast<uint8_t*>(const_cast<char*>(value)), strlen(name), strlen(value),
            NGHTTP2_NV_FLAG_NONE};
  }
  void Pump(absl::Duration wait) {
    const uint8_t* out;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &out)) > 0) {
      (void)!::send(fd_, out, static_cast<size_t>(n), MSG_NOSIGNAL);
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) <= 0) return;
    uint8_t buf[16384];
    const ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
    if (got <= 0) {
      peer_closed_ = true;
      return;
    }
    if (nghttp2_session_mem_recv(session_, buf, static_cast<size_t>(got)) < 0) peer_closed_ = true;
  }

  int fd_;
  bool connected_ = false;
  bool peer_closed_ = false;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Stream> streams_;
  std::vector<std::unique_ptr<Body>> bodies_;
};

// A gRPC message: the 5-byte prefix declaring `declared` bytes, then `payload`.
std::string Framed(uint32_t declared, const std::string& payload) {
  std::string m = {0, static_cast<char>(declared >> 24), static_cast<char>(declared >> 16),
                   static_cast<char>(declared >> 8), static_cast<char>(declared)};
  return m + payload;
}

class MalformedInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proxy_ = std::make_unique<ProxyProcess>(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools:
  - { name: a, endpoints: ["@A@"] }
routes:
  - name: models
    match: { method_prefix: /inference.GRPCInferenceService/, model: resnet }
    split: [ { pool: a, weight: 1 } ]
  - name: rest
    split: [ { pool: a, weight: 1 } ]
)",
                                                                {{"@A@", backend_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
  }

  // A normal call through the proxy still works.
  void ExpectStillServing() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    auto channel = proxy_->NewChannel();
    const grpc::Status status = CallGeneric(channel, "/rollout.testing.Echo/Unary", &ctx, "");
    EXPECT_TRUE(status.ok()) << status.error_message() << "\n" << proxy_->Log();
  }

  EchoBackend backend_{"a"};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(MalformedInputTest, BytesThatAreNotHttp2CloseThatConnectionOnly) {
  RawH2 raw(proxy_->port());
  ASSERT_TRUE(raw.connected());
  raw.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x01\x02\x03 not a preface");
  EXPECT_TRUE(raw.WaitForClose(absl::Seconds(5)));
  ExpectStillServing();
}

TEST_F(MalformedInputTest, AModelNameThatIsNotProtobufIsInvalidArgument) {
  RawH2 raw(proxy_->port());
  // Field 1, length-delimited, with a length varint that never ends.
  const std::string bad = "\x0a\xff\xff\xff\xff\xff\xff";
  const int32_t id =
      raw.Request("/inference.GRPCInferenceService/ModelInfer", Framed(bad.size(), bad), true);
  RawH2::Stream s = raw.Wait(id, absl::Seconds(5));
  ASSERT_TRUE(s.closed);
  EXPECT_EQ(s.fields["grpc-status"], "3") << s.fields["grpc-message"];
  EXPECT_THAT(s.fields["grpc-message"], HasSubstr("rollout-proxy"));
  EXPECT_EQ(backend_.total_calls(), 0);
  ExpectStillServing();
}

TEST_F(MalformedInputTest, AMessageCutShortNeverReachesTheBackendAsAWholeCall) {
  RawH2 raw(proxy_->port());
  // The prefix promises 100 bytes; 10 come, then the client half-closes.
  const int32_t id = raw.Request("/inference.GRPCInferenceService/ModelInfer",
                                 Framed(100, std::string(10, 'x')), true);
  RawH2::Stream s = raw.Wait(id, absl::Seconds(5));
  ASSERT_TRUE(s.closed);
  EXPECT_EQ(s.fields["grpc-status"], "3") << s.fields["grpc-message"];
  EXPECT_EQ(backend_.active_calls(), 0);
  ExpectStillServing();
}

TEST_F(MalformedInputTest, StreamsResetAsSoonAsTheyOpenLeaveNothingBehind) {
  RawH2 raw(proxy_->port());
  for (int i = 0; i < 200; ++i) {
    const int32_t id = raw.Request("/rollout.testing.Echo/Unary", Framed(0, ""), false);
    raw.Reset(id);
  }
  // A stream on the same connection still gets through.
  const int32_t id = raw.Request("/rollout.testing.Echo/Unary", Framed(0, ""), true);
  RawH2::Stream s = raw.Wait(id, absl::Seconds(5));
  EXPECT_EQ(s.fields["grpc-status"], "0") << s.fields["grpc-message"];
  EXPECT_TRUE(backend_.WaitFor([&] { return backend_.active_calls() == 0; }, absl::Seconds(5)))
      << backend_.active_calls() << " calls still open at the backend";
  ExpectStillServing();
}

}  // namespace
}  // namespace rollout::testing
