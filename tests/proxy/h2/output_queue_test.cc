// OutputQueue: copied and referenced bytes go out in order in one writev; what a full socket
// did not take of a referenced payload is copied when the flush ends, so the owner may then
// change or free it; an adopted buffer outlives its owner until then.
#include "proxy/h2/output_queue.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace rollout::proxy::h2 {
namespace {

class SocketPair {
 public:
  SocketPair() {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    fcntl(fds_[0], F_SETFL, O_NONBLOCK);
    fcntl(fds_[1], F_SETFL, O_NONBLOCK);
  }
  ~SocketPair() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int writer() const { return fds_[0]; }
  std::string ReadAll() {
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = read(fds_[1], buf, sizeof(buf))) > 0;) out.append(buf, n);
    return out;
  }

 private:
  int fds_[2];
};

std::string Pattern(size_t n, char first) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(first + i % 23);
  return s;
}

// Writes until the queue is empty, reading the other end between writes.
std::string Drain(OutputQueue* q, SocketPair* s) {
  std::string got;
  while (q->queued() > 0) {
    const ssize_t n = q->WriteTo(s->writer());
    if (n > 0) q->Consume(static_cast<size_t>(n));
    got += s->ReadAll();
  }
  return got + s->ReadAll();
}

TEST(OutputQueueTest, CopiesAndReferencesGoOutInOrder) {
  SocketPair s;
  OutputQueue q;
  const std::string payload = Pattern(10000, 'a');
  q.Append("HEAD1", 5);
  q.AppendReference(payload.data(), payload.size());
  q.Append("HEAD2", 5);
  q.Append("more", 4);  // merges with HEAD2
  EXPECT_EQ(q.queued(), 10014u);
  EXPECT_TRUE(q.has_references());
  EXPECT_EQ(Drain(&q, &s), "HEAD1" + payload + "HEAD2more");
  EXPECT_FALSE(q.has_references());
  q.EndFlush();
  EXPECT_EQ(q.queued(), 0u);
}

TEST(OutputQueueTest, WhatAFullSocketLeftOfAReferenceIsCopiedAtTheFlushsEnd) {
  SocketPair s;
  int small = 4096;
  setsockopt(s.writer(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  OutputQueue q;
  std::string payload = Pattern(1 << 20, 'A');
  const std::string original = payload;
  q.Append("H", 1);
  q.AppendReference(payload.data(), payload.size());
  const ssize_t n = q.WriteTo(s.writer());
  ASSERT_GT(n, 0);
  ASSERT_LT(static_cast<size_t>(n), payload.size());  // the socket took only part of it
  q.Consume(static_cast<size_t>(n));
  const uint64_t epoch = q.epoch();
  q.EndFlush();
  EXPECT_EQ(q.epoch(), epoch + 1);
  EXPECT_FALSE(q.has_references());
  payload.assign(payload.size(), '!');  // the owner reuses its buffer
  payload.clear();
  payload.shrink_to_fit();
  const std::string got = s.ReadAll() + Drain(&q, &s);
  EXPECT_EQ(got, "H" + original);
}

TEST(OutputQueueTest, AnAdoptedBufferOutlivesItsOwnerUntilTheFlushEnds) {
  SocketPair s;
  OutputQueue q;
  auto owner = std::make_unique<ByteBuffer>();
  const std::string payload = Pattern(20000, 'k');
  owner->Append(payload.data(), payload.size());
  ASSERT_TRUE(owner->on_heap());
  q.AppendReference(owner->data(), owner->size());
  q.Adopt(std::move(*owner));
  owner.reset();  // the call is gone; its bytes are still queued
  EXPECT_EQ(Drain(&q, &s), payload);
  q.EndFlush();
}

TEST(OutputQueueTest, AnInlineOwnerHasItsReferencesCopiedWhenItGoes) {
  SocketPair s;
  OutputQueue q;
  auto owner = std::make_unique<ByteBuffer>();
  owner->Append("small", 5);
  ASSERT_FALSE(owner->on_heap());
  q.AppendReference(owner->data(), owner->size());
  q.Adopt(std::move(*owner));
  EXPECT_FALSE(q.has_references());
  owner.reset();
  EXPECT_EQ(Drain(&q, &s), "small");
}

TEST(OutputQueueTest, CopiedBytesAreOneContiguousRun) {
  OutputQueue q;
  q.Append("abc", 3);
  q.Append("def", 3);
  q.Consume(2);
  EXPECT_EQ(q.Contiguous(), "cdef");
  q.Consume(4);
  EXPECT_EQ(q.queued(), 0u);
  EXPECT_EQ(q.Contiguous(), "");
}

}  // namespace
}  // namespace rollout::proxy::h2
