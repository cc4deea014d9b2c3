// ByteBuffer: appends past the inline bytes keep every byte, erasing the front keeps the
// rest, and moves (inline or on the heap) hand the bytes over and leave the source empty.
#include "proxy/h2/byte_buffer.h"

#include <cstring>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace rollout::proxy::h2 {
namespace {

std::string Text(const ByteBuffer& b) { return std::string(b.data(), b.size()); }

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

TEST(ByteBufferTest, GrowsPastTheInlineBytesKeepingEveryByte) {
  ByteBuffer b;
  const std::string all = Pattern(5000);
  for (size_t at = 0; at < all.size(); at += 77)
    b.Append(all.data() + at, std::min<size_t>(77, all.size() - at));
  EXPECT_EQ(Text(b), all);
  b.EraseFront(1000);
  EXPECT_EQ(Text(b), all.substr(1000));
  b.Clear();
  EXPECT_TRUE(b.empty());
  b.Append("xy", 2);
  EXPECT_EQ(Text(b), "xy");
}

TEST(ByteBufferTest, ExtendHandsOutRoomForSeveralPiecesAcrossTheInlineEdge) {
  ByteBuffer b;
  b.Append("ab", 2);
  char* room = b.Extend(ByteBuffer::kInlineBytes);  // grows onto the heap
  memset(room, 'x', ByteBuffer::kInlineBytes);
  EXPECT_EQ(b.size(), 2 + ByteBuffer::kInlineBytes);
  EXPECT_EQ(Text(b), "ab" + std::string(ByteBuffer::kInlineBytes, 'x'));
  EXPECT_EQ(b.Extend(0), b.data() + b.size());
}

TEST(ByteBufferTest, MovesInlineAndHeapBytes) {
  ByteBuffer small;
  small.Append("hello", 5);
  ByteBuffer a(std::move(small));
  EXPECT_EQ(Text(a), "hello");
  EXPECT_TRUE(small.empty());

  ByteBuffer big;
  const std::string s = Pattern(3000);
  big.Append(s.data(), s.size());
  a = std::move(big);
  EXPECT_EQ(Text(a), s);
  EXPECT_TRUE(big.empty());
  big.Append("again", 5);  // the moved-from buffer is usable
  EXPECT_EQ(Text(big), "again");

  ByteBuffer c;
  c.Append("c", 1);
  a = std::move(c);  // heap to inline: the heap block is freed (LeakSanitizer checks)
  EXPECT_EQ(Text(a), "c");
}

}  // namespace
}  // namespace rollout::proxy::h2
