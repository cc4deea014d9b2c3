#include "proxy/h2/message_splitter.h"

#include <string>

#include "gtest/gtest.h"

namespace rollout::proxy::h2 {
namespace {

std::string Framed(const std::string& payload) {
  const size_t n = payload.size();
  std::string out = {0, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + payload;
}

void Feed(MessageSplitter* s, const std::string& bytes, size_t chunk) {
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    const std::string part = bytes.substr(at, chunk);
    s->Append(reinterpret_cast<const uint8_t*>(part.data()), part.size());
  }
}

TEST(MessageSplitterTest, CutsMessagesWhateverTheChunksAre) {
  const std::string stream = Framed("first") + Framed("") + Framed(std::string(300, 'z'));
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{5}, size_t{7}, stream.size()}) {
    MessageSplitter s(64);
    Feed(&s, stream, chunk);
    ASSERT_EQ(s.messages().size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(s.messages()[0], "first");
    EXPECT_EQ(s.messages()[1], "");
    EXPECT_EQ(s.messages()[2], std::string(300, 'z'));
    EXPECT_EQ(s.count(), 3u);
    EXPECT_EQ(s.held_bytes(), 305u);
  }
}

TEST(MessageSplitterTest, KeepsOnlyTheFirstMessagesAndCountsTheRest) {
  MessageSplitter s(2);
  Feed(&s, Framed("a") + Framed("b") + Framed("c") + Framed("d"), 2);
  ASSERT_EQ(s.messages().size(), 2u);
  EXPECT_EQ(s.messages()[1], "b");
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.held_bytes(), 2u);
}

TEST(MessageSplitterTest, ClearFreesAndSkipsWhatFollows) {
  MessageSplitter s(64);
  Feed(&s, Framed("kept") + Framed("half").substr(0, 6), 100);
  EXPECT_EQ(s.held_bytes(), 5u);
  s.Clear();
  EXPECT_EQ(s.held_bytes(), 0u);
  Feed(&s, Framed("half").substr(6) + Framed("later"), 100);
  EXPECT_TRUE(s.messages().empty());
  EXPECT_EQ(s.held_bytes(), 0u);
  EXPECT_EQ(s.count(), 3u);
}

}  // namespace
}  // namespace rollout::proxy::h2
