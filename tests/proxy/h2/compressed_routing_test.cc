// A call whose first message is compressed (grpc-encoding gzip or deflate) still routes by
// model on the frame-level plane, and the message reaches the backend as the client sent it.
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/echo_backend.h"
#include "tests/support/proxy_process.h"
#include "tests/support/raw_h2_client.h"
#include "tests/support/zlib_compress.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kDeafBackend[] = ROLLOUT_SOURCE_DIR "/tests/support/deaf_h2_backend.py";
constexpr char kInfer[] = "/inference.GRPCInferenceService/ModelInfer";

// A ModelInferRequest naming `model` (field 1), with a payload that compresses well.
std::string InferRequest(const std::string& model) {
  std::string m = {0x0a, static_cast<char>(model.size())};
  m += model;
  m += "\x2a\x80\x10" + std::string(2048, 'z');  // field 5 (raw_input_contents), 2048 bytes
  return m;
}

// The gRPC message: the 5-byte prefix with the compressed flag, then `compressed`.
std::string CompressedMessage(const std::string& compressed) {
  std::string framed = RawH2Client::GrpcMessage(compressed);
  framed[0] = 1;
  return framed;
}

class CompressedRoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_port_ = deaf_.WaitForLine(R"(listening on 127\.0\.0\.1:(\d+))", absl::Seconds(10));
    ASSERT_FALSE(backend_port_.empty()) << deaf_.Log();
    proxy_ = std::make_unique<ProxyProcess>(
        absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
pools:
  - { name: resnet, endpoints: ["127.0.0.1:@DEAF@"] }
  - { name: other, endpoints: ["@ECHO@"] }
routes:
  - name: resnet
    match: { model: resnet }
    split: [ { pool: resnet, weight: 1 } ]
  - name: rest
    split: [ { pool: other, weight: 1 } ]
)",
                            {{"@DEAF@", backend_port_}, {"@ECHO@", echo_.address()}}));
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
  }

  // Sends `message` with grpc-encoding `encoding` on `stream`; reads for `wait`.
  RawH2Client::Stream Call(RawH2Client* c, int32_t stream, const std::string& encoding,
                           const std::string& message, absl::Duration wait) {
    c->Send(RawH2Client::Headers(
        stream, RawH2Client::GrpcRequest(kInfer, {{"grpc-encoding", encoding}}), false));
    c->Send(RawH2Client::Data(stream, message, true));
    return c->Wait(stream, wait);
  }

  ChildProcess deaf_{{"/usr/bin/python3", kDeafBackend}};
  std::string backend_port_;
  EchoBackend echo_{"other"};
  std::unique_ptr<ProxyProcess> proxy_;
};

TEST_F(CompressedRoutingTest, GzipAndDeflateRouteByModelAndPassThroughUnchanged) {
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  int32_t stream = 1;
  for (const bool gzip : {true, false}) {
    const std::string encoding = gzip ? "gzip" : "deflate";
    // Another model: routed to the other pool (whose backend has no such method).
    RawH2Client::Stream other =
        Call(&c, stream, encoding, CompressedMessage(Compress(InferRequest("bert"), gzip)),
             absl::Seconds(5));
    EXPECT_EQ(other.fields["x-rollout-pool"], "other") << encoding;
    stream += 2;
    // resnet: to the deaf backend, which prints the bytes it got.
    const std::string message = CompressedMessage(Compress(InferRequest("resnet"), gzip));
    RawH2Client::Stream s = Call(&c, stream, encoding, message, absl::Milliseconds(300));
    EXPECT_FALSE(s.ended) << encoding << ": " << s.fields["grpc-message"];
    // The backend's stream ids are the proxy's own: look for the bytes.
    const std::string hex = absl::BytesToHexString(message);
    EXPECT_EQ(deaf_.WaitForLine(absl::StrCat(R"(data \d+ ()", hex, ")"), absl::Seconds(3)), hex)
        << encoding << "\n"
        << deaf_.Log();
    stream += 2;
  }
}

TEST_F(CompressedRoutingTest, WhatCannotBeInflatedIsRefusedNamingWhy) {
  RawH2Client c(proxy_->port());
  c.Send(RawH2Client::Preface());
  RawH2Client::Stream bad =
      Call(&c, 1, "gzip", CompressedMessage("this is not gzip"), absl::Seconds(5));
  EXPECT_EQ(bad.fields["grpc-status"], "3");
  EXPECT_THAT(bad.fields["grpc-message"], HasSubstr("not valid gzip"));
  RawH2Client::Stream br = Call(&c, 3, "br", CompressedMessage("..."), absl::Seconds(5));
  EXPECT_EQ(br.fields["grpc-status"], "12");
  EXPECT_THAT(br.fields["grpc-message"], HasSubstr("grpc-encoding \"br\" cannot be read"));
  EXPECT_THAT(deaf_.Log(), ::testing::Not(HasSubstr("request")));
}

}  // namespace
}  // namespace rollout::testing
