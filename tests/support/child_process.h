// ChildProcess: runs one of our binaries as a real process for integration tests.
//
// stdout and stderr go to a log file, which WaitForLine() polls, so a chatty child can
// never block on a full pipe. The destructor kills the child (SIGKILL) if it is still
// running, so a failing test leaves nothing behind.
//
//   ChildProcess proxy({kProxyBin, "--config", path});
//   std::string port = proxy.WaitForLine(R"(listening on [0-9.]+:(\d+))", absl::Seconds(10));
//   proxy.Signal(SIGTERM);
//   int code = proxy.WaitForExit(absl::Seconds(5));
//
// Thread-safety: not thread-safe.
#ifndef ROLLOUT_TESTS_SUPPORT_CHILD_PROCESS_H_
#define ROLLOUT_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace rollout::testing {

class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits for a log line matching `regex` (RE2 syntax) and returns its first capture group
  // (or the whole line when there is none). Returns "" on timeout or if the child exits.
  std::string WaitForLine(const std::string& regex, absl::Duration timeout);

  void Signal(int signo);
  // The exit code (128+signal if killed by a signal), or nullopt on timeout.
  std::optional<int> WaitForExit(absl::Duration timeout);
  bool running();

  std::string Log() const;  // everything the child printed so far
  pid_t pid() const { return pid_; }
  // The child's resident memory (VmRSS) in KiB, or -1 if it cannot be read.
  int64_t RssKib() const;
  // The CPU time it used so far (utime + stime), in clock ticks, or -1.
  int64_t CpuTicks() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> exit_code_;
};

// Runs a command to completion; returns its exit code and fills `output` (stdout+stderr).
int RunCommand(const std::vector<std::string>& argv, std::string* output,
               absl::Duration timeout = absl::Seconds(30));

// A fresh directory under $TMPDIR, removed with its contents when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string WriteFile(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_CHILD_PROCESS_H_
