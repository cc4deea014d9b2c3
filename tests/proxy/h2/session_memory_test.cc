// SessionMemory: blocks come back from its free lists, realloc keeps what a block held, the
// free lists stay bounded, and two real nghttp2 sessions trading requests take nothing from
// malloc once the first streams have run.
#include "proxy/h2/session_memory.h"

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rollout::proxy::h2 {
namespace {

TEST(SessionMemoryTest, AFreedBlockServesTheNextAllocationOfItsClass) {
  SessionMemory memory;
  void* a = memory.Allocate(100);
  memory.Free(a);
  void* b = memory.Allocate(90);  // the same 128-byte class
  EXPECT_EQ(a, b);
  EXPECT_EQ(memory.reused(), 1u);
  EXPECT_EQ(memory.from_malloc(), 1u);
  memory.Free(b);
}

// Every size gets a block that holds it (ASan reports a write past a block that is too
// small), and sizes that share a class share its free list: across a class edge they do not.
TEST(SessionMemoryTest, EverySizeFitsItsClassAndClassEdgesAreExact) {
  SessionMemory memory;
  for (size_t size = 0; size <= 4200; ++size) {
    void* p = memory.Allocate(size);
    ASSERT_NE(p, nullptr) << size;
    memset(p, 0xab, size);
    memory.Free(p);
  }
  // 16 bytes of header: 16 is the most a 32-byte block holds, 4080 the most of 4 KiB.
  for (const size_t edge : {size_t{16}, size_t{48}, size_t{112}, size_t{4080}}) {
    void* a = memory.Allocate(edge);
    memory.Free(a);
    EXPECT_EQ(memory.Allocate(edge), a) << edge;
    memory.Free(a);
    void* b = memory.Allocate(edge + 1);
    EXPECT_NE(b, a) << edge + 1;
    memory.Free(b);
  }
  EXPECT_EQ(memory.Allocate(SIZE_MAX - 8), nullptr);  // no wrap into a small class
}

TEST(SessionMemoryTest, ReallocKeepsTheBytesAndGrowsAcrossClasses) {
  SessionMemory memory;
  auto* p = static_cast<char*>(memory.Allocate(40));
  memcpy(p, "0123456789", 10);
  EXPECT_EQ(memory.Reallocate(p, 44), p);  // still fits its 64-byte block
  auto* q = static_cast<char*>(memory.Reallocate(p, 3000));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(std::string(q, 10), "0123456789");
  auto* r = static_cast<char*>(memory.Reallocate(q, 100000));  // past the classes
  EXPECT_EQ(std::string(r, 10), "0123456789");
  memory.Free(r);
  void* fresh = memory.Reallocate(nullptr, 0);  // realloc(NULL, n) is malloc
  EXPECT_NE(fresh, nullptr);
  memory.Free(fresh);
}

TEST(SessionMemoryTest, CallocZeroesAReusedBlock) {
  SessionMemory memory;
  void* a = memory.Allocate(200);
  memset(a, 0xab, 200);
  memory.Free(a);
  nghttp2_mem* mem = memory.mem();
  auto* b = static_cast<unsigned char*>(mem->calloc(10, 20, mem->mem_user_data));
  ASSERT_EQ(static_cast<void*>(b), a);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(b[i], 0) << i;
  mem->free(b, mem->mem_user_data);
  EXPECT_EQ(mem->calloc(SIZE_MAX / 2, 4, mem->mem_user_data), nullptr);  // overflow refused
}

TEST(SessionMemoryTest, LargeBlocksAreNotKept) {
  SessionMemory memory;
  memory.Free(memory.Allocate(64 * 1024));
  memory.Free(memory.Allocate(64 * 1024));
  EXPECT_EQ(memory.reused(), 0u);
  EXPECT_EQ(memory.from_malloc(), 2u);
}

TEST(SessionMemoryTest, AClassKeepsABoundedNumberOfFreeBlocks) {
  SessionMemory memory;
  std::vector<void*> blocks;
  for (int i = 0; i < 5000; ++i) blocks.push_back(memory.Allocate(1000));  // 1 KiB class
  for (void* b : blocks) memory.Free(b);
  blocks.clear();
  for (int i = 0; i < 5000; ++i) blocks.push_back(memory.Allocate(1000));
  for (void* b : blocks) memory.Free(b);
  EXPECT_EQ(memory.reused(), SessionMemory::kMaxFreeBytesPerClass / 1024);
}

// Two sessions over memory: the client sends a request, the server answers with headers.
struct Pair {
  SessionMemory memory;
  nghttp2_session* client = nullptr;
  nghttp2_session* server = nullptr;
  int answered = 0;

  Pair() {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        callbacks, [](nghttp2_session* session, const nghttp2_frame* frame, void* user) {
          auto* self = static_cast<Pair*>(user);
          if (session == self->server && frame->hd.type == NGHTTP2_HEADERS &&
              (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
            const nghttp2_nv status[] = {
                {(uint8_t*)":status", (uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
                {(uint8_t*)"grpc-status", (uint8_t*)"0", 11, 1, NGHTTP2_NV_FLAG_NONE}};
            nghttp2_submit_response(session, frame->hd.stream_id, status, 2, nullptr);
          }
          if (session == self->client && frame->hd.type == NGHTTP2_HEADERS) ++self->answered;
          return 0;
        });
    nghttp2_option* option;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_closed_streams(option, 1);  // as the proxy's sessions
    nghttp2_session_client_new3(&client, callbacks, this, option, memory.mem());
    nghttp2_session_server_new3(&server, callbacks, this, option, memory.mem());
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, nullptr, 0);
    nghttp2_submit_settings(server, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Pair() {
    nghttp2_session_del(client);
    nghttp2_session_del(server);
  }
  static void Pump(nghttp2_session* from, nghttp2_session* to) {
    const uint8_t* data;
    for (ssize_t n; (n = nghttp2_session_mem_send(from, &data)) > 0;) {
      ASSERT_EQ(nghttp2_session_mem_recv(to, data, static_cast<size_t>(n)), n);
    }
  }
  void Call() {
    const std::string path = "/inference.GRPCInferenceService/ModelInfer";
    const nghttp2_nv request[] = {
        {(uint8_t*)":method", (uint8_t*)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)":scheme", (uint8_t*)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)":path", (uint8_t*)path.data(), 5, path.size(), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)":authority", (uint8_t*)"model", 10, 5, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)"te", (uint8_t*)"trailers", 2, 8, NGHTTP2_NV_FLAG_NONE}};
    ASSERT_GT(nghttp2_submit_request(client, nullptr, request, 5, nullptr, nullptr), 0);
    Pump(client, server);
    Pump(server, client);
    Pump(client, server);
  }
};

TEST(SessionMemoryTest, RealSessionsTakeNothingFromMallocOnceWarm) {
  Pair pair;
  for (int i = 0; i < 50; ++i) pair.Call();
  const uint64_t warm = pair.memory.from_malloc();
  for (int i = 0; i < 2000; ++i) pair.Call();
  EXPECT_EQ(pair.answered, 2050);
  EXPECT_EQ(pair.memory.from_malloc(), warm);
  EXPECT_GT(pair.memory.reused(), 2000u * 4);  // a stream, its items and headers each call
}

}  // namespace
}  // namespace rollout::proxy::h2
