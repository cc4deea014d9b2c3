// How many heap allocations the data plane makes per proxied call, once warm. The proxy runs
// in this process (serve::Server, one worker, the bench's 90/10 split); the echo backends
// and the load (rollout-bench) are other processes, so what this process allocates while
// the load runs is the proxy's. Every malloc is counted: nghttp2's, ours, the standard
// library's. The count per call is held to kMaxAllocationsPerCall, so that a change that
// adds an allocation to the steady path fails here and has to say why.
//
// Counting: under AddressSanitizer, its allocation hooks; otherwise this binary replaces
// malloc, calloc and realloc with counting wrappers around glibc's.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "config/config_loader.h"
#include "gtest/gtest.h"
#include "proxy/h2/asan_poison.h"
#include "serve/server.h"
#include "tests/support/child_process.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

#ifdef ROLLOUT_ASAN
#include <sanitizer/allocator_interface.h>
namespace {
void OnMalloc(const volatile void*, size_t) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
}
void OnFree(const volatile void*) {}
[[maybe_unused]] const int kHooked = __sanitizer_install_malloc_and_free_hooks(OnMalloc, OnFree);
}  // namespace
#else
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
void* malloc(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(count, size);
}
void* realloc(void* block, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(block, size);
}
void free(void* block) { __libc_free(block); }
}
#endif

namespace rollout::testing {
namespace {

// What the steady path may allocate per call, nghttp2 included. Measured with one worker,
// c2×m8, 100-byte unary calls: 21.0 before issue 21, 9.0 with SessionMemory (nghttp2's
// blocks), and 0.001 with inline header blocks and pipes and the H2Call BlockCache: about
// 75 allocations in 2 s, all of them the worker's 100 ms tick and the load's connections.
// One allocation per call anywhere on the path would be 1.0.
constexpr double kMaxAllocationsPerCall = 0.05;

constexpr char kBenchBin[] = ROLLOUT_BENCH_BIN;
constexpr char kBenchServerBin[] = ROLLOUT_BENCH_SERVER_BIN;

std::string StartedPort(ChildProcess* p) {
  return p->WaitForLine(R"(listening on [0-9.]+:(\d+))", absl::Seconds(20));
}

uint64_t Load(int port, const char* duration, uint64_t* calls) {
  std::string out;
  const std::vector<std::string> argv = {
      kBenchBin, "--json", "--warmup", "0s", "--target",   absl::StrCat("127.0.0.1:", port),
      "-c",      "2",      "-m",       "8",  "--duration", duration};
  const uint64_t before = g_allocations.load();
  EXPECT_EQ(RunCommand(argv, &out, absl::Seconds(60)), 0) << out;
  const uint64_t allocated = g_allocations.load() - before;
  const nlohmann::json r = nlohmann::json::parse(out.substr(out.find('{')), nullptr, false);
  *calls = r.value("calls", uint64_t{0});
  EXPECT_EQ(r["codes"].value("OK", uint64_t{0}), *calls) << out;
  return allocated;
}

TEST(SteadyAllocationsTest, AWarmProxiedCallAllocatesAtMostABudget) {
  ChildProcess v1({kBenchServerBin, "--port", "0", "--name", "v1"});
  ChildProcess v2({kBenchServerBin, "--port", "0", "--name", "v2"});
  const std::string p1 = StartedPort(&v1), p2 = StartedPort(&v2);
  ASSERT_FALSE(p1.empty() || p2.empty());
  absl::StatusOr<control::Config> config =
      control::ParseConfig(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
drain_delay: 0s
pools:
  - { name: v1, endpoints: ["127.0.0.1:@P1@"] }
  - { name: v2, endpoints: ["127.0.0.1:@P2@"] }
routes:
  - name: all
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
)",
                                               {{"@P1@", p1}, {"@P2@", p2}}),
                           "steady_allocations_test");
  ASSERT_TRUE(config.ok()) << config.status();
  auto server = serve::Server::Start(*config, std::nullopt);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->data_port();

  uint64_t calls = 0;
  Load(port, "1s", &calls);  // warm: backend connections, free lists, HPACK tables
  ASSERT_GT(calls, 100u);
  const uint64_t allocated = Load(port, "2s", &calls);
  ASSERT_GT(calls, 200u);
  const double per_call = static_cast<double>(allocated) / static_cast<double>(calls);
  std::printf("%llu allocations over %llu calls: %.2f per call\n",
              static_cast<unsigned long long>(allocated), static_cast<unsigned long long>(calls),
              per_call);
  EXPECT_LE(per_call, kMaxAllocationsPerCall);
  (*server)->Drain(SIGTERM);
}

}  // namespace
}  // namespace rollout::testing
