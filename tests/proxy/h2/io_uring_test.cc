// io_uring: true: a worker's writes go out through one io_uring_enter per turn
// (UringSender). Several clients with messages from empty to past 1 MiB, copied and
// referenced payloads mixed, all cross one ring intact; and a kernel (here a seccomp filter)
// that refuses io_uring stops the start with an error that names the key. The end-to-end
// and hostile-client suites run on this path too (tests/CMakeLists.txt: IoUringDataPlane).
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

std::string Config(const std::string& backend) {
  return absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
io_uring: true
pools: [ { name: a, endpoints: ["@A@"] } ]
routes: [ { name: all, split: [ { pool: a, weight: 1 } ] } ]
)",
                             {{"@A@", backend}});
}

std::string Payload(size_t size, int seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(i * 131 + seed);
  return s;
}

TEST(IoUringTest, ManyClientsAndMessageSizesCrossOneRingIntact) {
  if (getenv("ROLLOUT_TEST_PROXY_CONFIG") != nullptr) GTEST_SKIP() << "sets io_uring itself";
  EchoBackend backend("a");
  ProxyProcess proxy(Config(backend.address()));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  // Under OutputQueue::kReferenceMinBytes (copied), at it and past it (referenced where
  // they lie), and past the socket buffers (partial writes, then EPOLLOUT).
  const std::vector<size_t> sizes = {0, 100, 4095, 4096, 70000, (1 << 20) + 3};
  constexpr int kClients = 6;
  constexpr int kCallsEach = 24;
  std::vector<int> failures(kClients, 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = Echo::NewStub(proxy.NewChannel());
      for (int i = 0; i < kCallsEach; ++i) {
        const std::string payload = Payload(sizes[(c + i) % sizes.size()], c * 7 + i);
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
        EchoRequest request;
        request.set_payload(payload);
        EchoResponse response;
        const grpc::Status status = stub->Unary(&ctx, request, &response);
        if (!status.ok() || response.payload() != payload || response.backend() != "a") {
          ++failures[c];
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(failures[c], 0) << "client " << c;
  EXPECT_EQ(backend.total_calls(), kClients * kCallsEach);
}

// Runs the proxy with io_uring_setup(2) failing with EPERM, as under a container runtime's
// default seccomp profile; returns its exit code and fills `output`.
int RunWithoutIoUring(const std::string& config_path, std::string* output) {
  const std::string log_path = config_path + ".log";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
      _exit(99);
    }
    execl(kProxyBin, kProxyBin, "--config", config_path.c_str(), static_cast<char*>(nullptr));
    _exit(98);
  }
  int status = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  std::ifstream log(log_path);
  std::stringstream text;
  text << log.rdbuf();
  *output = text.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(IoUringTest, AKernelThatRefusesIoUringStopsTheStartNamingTheKey) {
  TempDir dir;
  const std::string config = dir.WriteFile("proxy.yaml", Config("127.0.0.1:1"));
  std::string output;
  EXPECT_EQ(RunWithoutIoUring(config, &output), 1) << output;
  EXPECT_THAT(output, HasSubstr("io_uring: true, but io_uring_setup: Operation not permitted"));
  EXPECT_THAT(output, HasSubstr("set io_uring: false"));
}

}  // namespace
}  // namespace rollout::testing
