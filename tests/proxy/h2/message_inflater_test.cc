// InflatePrefix: only the start of a compressed message, as far as asked, from as much of
// it as has arrived.
#include "proxy/h2/message_inflater.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/support/zlib_compress.h"

namespace rollout::proxy::h2 {
namespace {

using ::rollout::testing::Compress;

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
