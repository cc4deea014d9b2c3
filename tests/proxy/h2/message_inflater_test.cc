// InflatePrefix: only the start of a compressed message, as far as asked, from as much of
// it as has arrived.
#include "proxy/h2/message_inflater.h"

#include <zlib.h>

#include <string>

#include "gtest/gtest.h"

namespace rollout::proxy::h2 {
namespace {

// `plain` compressed as gRPC's "gzip" (RFC 1952) or "deflate" (zlib, RFC 1950).
std::string Compress(const std::string& plain, bool gzip) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 16 + MAX_WBITS : MAX_WBITS, 8,
               Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, plain.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

TEST(MessageInflaterTest, InflatesGzipAndDeflateWhole) {
  const std::string plain =
      "\x0a\x06resnet\x12\x01"
      "1";
  for (bool gzip : {true, false}) {
    std::string out;
    bool complete = false;
    EXPECT_EQ(InflatePrefix(gzip ? "gzip" : "deflate", Compress(plain, gzip), true, 1027, &out,
                            &complete),
              InflateResult::kOk);
    EXPECT_EQ(out, plain);
    EXPECT_TRUE(complete);
  }
}

TEST(MessageInflaterTest, StopsAtWhatWasAskedForOfALargeMessage) {
  std::string plain =
      "\x0a\x04"
      "bert";
  for (int i = 0; i < 100000; ++i) plain += static_cast<char>('a' + (i * 7919) % 26);
  std::string out;
  bool complete = true;
  EXPECT_EQ(InflatePrefix("gzip", Compress(plain, true), true, 1027, &out, &complete),
            InflateResult::kOk);
  EXPECT_EQ(out, plain.substr(0, 1027));
  EXPECT_FALSE(complete);
}

TEST(MessageInflaterTest, WaitsForMoreOrSaysWhatIsWrong) {
  std::string plain(5000, 'x');
  const std::string gz = Compress(plain, true);
  std::string out;
  bool complete;
  EXPECT_EQ(InflatePrefix("gzip", gz.substr(0, 10), false, 1027, &out, &complete),
            InflateResult::kNeedMore);
  EXPECT_EQ(InflatePrefix("gzip", gz.substr(0, 10), true, 1027, &out, &complete),
            InflateResult::kCorrupt);  // all of it came, and it ends early
  EXPECT_EQ(InflatePrefix("gzip", "this is not gzip at all", false, 1027, &out, &complete),
            InflateResult::kCorrupt);
  EXPECT_EQ(InflatePrefix("br", gz, true, 1027, &out, &complete), InflateResult::kUnsupported);
  EXPECT_EQ(InflatePrefix("identity", gz, true, 1027, &out, &complete),
            InflateResult::kUnsupported);
}

}  // namespace
}  // namespace rollout::proxy::h2
