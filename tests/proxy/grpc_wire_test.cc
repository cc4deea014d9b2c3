#include "proxy/h2/grpc_wire.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rollout::proxy::h2 {
namespace {

TEST(GrpcWireTest, PercentEncodingFollowsTheGrpcSpec) {
  EXPECT_EQ(PercentEncode("pool \"v2\" is at 100%"), "pool \"v2\" is at 100%25");
  EXPECT_EQ(PercentEncode("line\nbreak"), "line%0Abreak");
  EXPECT_EQ(PercentEncode("caf\xc3\xa9"), "caf%C3%A9");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(GrpcWireTest, GrpcStatusIsANumberFromZeroToSixteen) {
  EXPECT_EQ(ParseGrpcStatus("0"), 0);
  EXPECT_EQ(ParseGrpcStatus("14"), 14);
  EXPECT_EQ(ParseGrpcStatus("16"), 16);
  EXPECT_EQ(ParseGrpcStatus("17"), std::nullopt);
  EXPECT_EQ(ParseGrpcStatus("-1"), std::nullopt);
  EXPECT_EQ(ParseGrpcStatus("OK"), std::nullopt);
  EXPECT_EQ(ParseGrpcStatus(""), std::nullopt);
}

TEST(GrpcWireTest, ResetCodesMapAsGrpcClientsMapThem) {
  EXPECT_EQ(StatusForResetCode(NGHTTP2_CANCEL), 1);           // CANCELLED
  EXPECT_EQ(StatusForResetCode(NGHTTP2_REFUSED_STREAM), 14);  // UNAVAILABLE
  EXPECT_EQ(StatusForResetCode(NGHTTP2_ENHANCE_YOUR_CALM), 8);
  EXPECT_EQ(StatusForResetCode(NGHTTP2_INTERNAL_ERROR), 13);
  EXPECT_EQ(StatusForResetCode(0x1234), 2);  // UNKNOWN
}

std::string Message(uint32_t length) {
  std::string m = {0, static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                   static_cast<char>(length >> 8), static_cast<char>(length)};
  return m + std::string(length, 'x');
}

bool FeedInPieces(MessageSizeGuard* guard, const std::string& bytes, size_t piece) {
  for (size_t at = 0; at < bytes.size(); at += piece) {
    const size_t n = std::min(piece, bytes.size() - at);
    if (!guard->Feed(reinterpret_cast<const uint8_t*>(bytes.data()) + at, n)) return false;
  }
  return true;
}

TEST(GrpcWireTest, SizeGuardFindsEveryPrefixAcrossFrameBoundaries) {
  const std::string fine = Message(10) + Message(0) + Message(100) + Message(7);
  for (size_t piece : {1, 2, 3, 5, 7, 64, 1000}) {
    MessageSizeGuard guard(100);
    EXPECT_TRUE(FeedInPieces(&guard, fine, piece)) << "piece " << piece;
    MessageSizeGuard strict(100);
    EXPECT_FALSE(FeedInPieces(&strict, fine + Message(101), piece)) << "piece " << piece;
  }
  // The length is read from the prefix alone, before the body arrives.
  MessageSizeGuard guard(1024);
  const std::string prefix = Message(1 << 30).substr(0, kMessagePrefixBytes);
  EXPECT_FALSE(guard.Feed(reinterpret_cast<const uint8_t*>(prefix.data()), prefix.size()));
}

TEST(GrpcWireTest, BinaryHeaderValuesMustBeBase64) {
  EXPECT_TRUE(IsBase64HeaderValue(""));
  EXPECT_TRUE(IsBase64HeaderValue("AAEC"));
  EXPECT_TRUE(IsBase64HeaderValue("AAE="));
  EXPECT_TRUE(IsBase64HeaderValue("AA=="));
  EXPECT_TRUE(IsBase64HeaderValue("AAE"));  // gRPC sends it unpadded
  EXPECT_TRUE(IsBase64HeaderValue("AA"));
  EXPECT_TRUE(IsBase64HeaderValue("ab+/09Zz"));
  EXPECT_FALSE(IsBase64HeaderValue("A"));
  EXPECT_FALSE(IsBase64HeaderValue("AAAAA"));
  EXPECT_FALSE(IsBase64HeaderValue("A==="));
  EXPECT_FALSE(IsBase64HeaderValue("===="));
  EXPECT_FALSE(IsBase64HeaderValue("AA=A"));
  EXPECT_FALSE(IsBase64HeaderValue("!!!notbase64"));
  EXPECT_FALSE(IsBase64HeaderValue("AA-_"));  // the URL-safe alphabet is not gRPC's
  EXPECT_FALSE(IsBase64HeaderValue("AA E"));
}

TEST(GrpcWireTest, GrpcTimeoutIsUpToEightDigitsAndAUnit) {
  EXPECT_EQ(ParseGrpcTimeoutNs("100m"), 100000000);
  EXPECT_EQ(ParseGrpcTimeoutNs("1S"), 1000000000);
  EXPECT_EQ(ParseGrpcTimeoutNs("2M"), int64_t{120} * 1000000000);
  EXPECT_EQ(ParseGrpcTimeoutNs("99999999H"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ParseGrpcTimeoutNs("99999999M"), int64_t{99999999} * 60 * 1000000000);
  EXPECT_EQ(ParseGrpcTimeoutNs("5u"), 5000);
  EXPECT_EQ(ParseGrpcTimeoutNs("7n"), 7);
  EXPECT_EQ(ParseGrpcTimeoutNs("0m"), 0);
  EXPECT_EQ(ParseGrpcTimeoutNs("m"), std::nullopt);
  EXPECT_EQ(ParseGrpcTimeoutNs("123456789S"), std::nullopt);  // nine digits
  EXPECT_EQ(ParseGrpcTimeoutNs("10s"), std::nullopt);
  EXPECT_EQ(ParseGrpcTimeoutNs("-1S"), std::nullopt);
  EXPECT_EQ(ParseGrpcTimeoutNs("1 S"), std::nullopt);
}

TEST(MessageStartsTest, FindsEachMessageWhereItsFirstByteArrivesHoweverTheBytesAreCut) {
  // Three messages: 3 bytes, empty, 300 bytes (a length prefix with a non-zero high byte).
  std::string wire;
  for (size_t length : {size_t{3}, size_t{0}, size_t{300}}) {
    wire += std::string{'\0', '\0', '\0', static_cast<char>(length >> 8),
                        static_cast<char>(length & 0xff)};
    wire += std::string(length, 'x');
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(wire.data());
  for (size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    MessageStarts starts;
    size_t total = 0, first_chunk_starts = 0;
    for (size_t at = 0; at < wire.size(); at += chunk) {
      const size_t n = starts.Feed(bytes + at, std::min(chunk, wire.size() - at));
      if (at == 0) first_chunk_starts = n;
      total += n;
    }
    EXPECT_EQ(total, 3u) << "chunks of " << chunk;
    EXPECT_EQ(first_chunk_starts, chunk >= 14 ? 3u : chunk >= 9 ? 2u : 1u) << chunk;
  }
}

}  // namespace
}  // namespace rollout::proxy::h2
