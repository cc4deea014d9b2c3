// ModelRewriter on real ModelInferRequest bytes, cut into DATA chunks of every small size:
// the backend parses the pool's model and version, and every other field as sent.
#include "proxy/h2/model_rewriter.h"

#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.pb.h"
#include "proxy/model_fields.h"

namespace rollout::proxy::h2 {
namespace {

std::string Frame(const std::string& payload, uint8_t flag = 0) {
  const uint32_t n = static_cast<uint32_t>(payload.size());
  std::string out = {static_cast<char>(flag), static_cast<char>(n >> 24),
                     static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + payload;
}

// The messages in `bytes` (whole, as a backend reads them).
std::vector<std::string> Unframe(absl::string_view bytes) {
  std::vector<std::string> out;
  while (bytes.size() >= kMessagePrefixBytes) {
    const uint32_t n = MessageLength(reinterpret_cast<const uint8_t*>(bytes.data()));
    EXPECT_LE(kMessagePrefixBytes + n, bytes.size());
    out.emplace_back(bytes.substr(kMessagePrefixBytes, n));
    bytes.remove_prefix(kMessagePrefixBytes + n);
  }
  EXPECT_TRUE(bytes.empty());
  return out;
}

inference::ModelInferRequest Request(const std::string& id) {
  inference::ModelInferRequest r;
  r.set_model_name("client-model");
  r.set_model_version("9");
  r.set_id(id);
  auto* in = r.add_inputs();
  in->set_name("input");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(250);
  r.add_raw_input_contents(std::string(1000, '\x42'));
  return r;
}

// Rewrites two messages fed in chunks of `chunk` bytes; returns what reaches the backend.
std::string Rewrite(const std::string& fields, size_t chunk, const std::string& wire) {
  ModelRewriter rewriter(fields);
  Pipe pipe;
  std::string error;
  for (size_t i = 0; i < wire.size(); i += chunk) {
    const size_t n = std::min(chunk, wire.size() - i);
    EXPECT_TRUE(rewriter.Feed(reinterpret_cast<const uint8_t*>(wire.data()) + i, n, &pipe, &error))
        << error;
  }
  return std::string(reinterpret_cast<const char*>(pipe.data()), pipe.queued());
}

TEST(ModelRewriterTest, TheBackendReadsThePoolsModelAndEveryOtherFieldAsSent) {
  const std::string wire =
      Frame(Request("a").SerializeAsString()) + Frame(Request("b").SerializeAsString());
  for (size_t chunk : {1, 2, 3, 4, 5, 6, 7, 64, 100000}) {
    const std::vector<std::string> messages =
        Unframe(Rewrite(EncodeModelFields("clf", "2"), chunk, wire));
    ASSERT_EQ(messages.size(), 2u) << "chunk " << chunk;
    for (size_t i = 0; i < messages.size(); ++i) {
      inference::ModelInferRequest got;
      ASSERT_TRUE(got.ParseFromString(messages[i])) << "chunk " << chunk;
      EXPECT_EQ(got.model_name(), "clf");
      EXPECT_EQ(got.model_version(), "2");
      inference::ModelInferRequest want = Request(i == 0 ? "a" : "b");
      want.set_model_name("clf");
      want.set_model_version("2");
      EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString()) << "chunk " << chunk;
    }
  }
}

TEST(ModelRewriterTest, AVersionAlonePinsTheVersionAndKeepsTheClientsModel) {
  const std::vector<std::string> messages =
      Unframe(Rewrite(EncodeModelFields("", "1"), 3, Frame(Request("a").SerializeAsString())));
  ASSERT_EQ(messages.size(), 1u);
  inference::ModelInferRequest got;
  ASSERT_TRUE(got.ParseFromString(messages[0]));
  EXPECT_EQ(got.model_name(), "client-model");
  EXPECT_EQ(got.model_version(), "1");
}

TEST(ModelRewriterTest, AnEmptyMessageBecomesThePoolsFields) {
  const std::vector<std::string> messages =
      Unframe(Rewrite(EncodeModelFields("clf", "2"), 1, Frame("")));
  ASSERT_EQ(messages.size(), 1u);
  inference::ModelReadyRequest got;
  ASSERT_TRUE(got.ParseFromString(messages[0]));
  EXPECT_EQ(got.name(), "clf");
  EXPECT_EQ(got.version(), "2");
}

TEST(ModelRewriterTest, ACompressedMessageIsRefused) {
  ModelRewriter rewriter(EncodeModelFields("clf", "2"));
  Pipe pipe;
  std::string error;
  const std::string wire = Frame("compressed bytes", /*flag=*/1);
  EXPECT_FALSE(
      rewriter.Feed(reinterpret_cast<const uint8_t*>(wire.data()), wire.size(), &pipe, &error));
  EXPECT_NE(error.find("compressed request message"), std::string::npos) << error;
}

TEST(ModelRewriterTest, OnlyTheCallsThatNameAModel) {
  EXPECT_TRUE(NamesModel("/inference.GRPCInferenceService/ModelInfer"));
  EXPECT_TRUE(NamesModel("/inference.GRPCInferenceService/ModelStreamInfer"));
  EXPECT_TRUE(NamesModel("/inference.GRPCInferenceService/ModelMetadata"));
  EXPECT_FALSE(NamesModel("/inference.GRPCInferenceService/ServerReady"));
  EXPECT_FALSE(NamesModel("/other.Service/ModelInfer"));
}

}  // namespace
}  // namespace rollout::proxy::h2
