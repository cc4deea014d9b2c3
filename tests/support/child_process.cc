#include "tests/support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "re2/re2.h"

namespace rollout::testing {
namespace {

std::string MakeTempPath(const char* pattern_suffix, bool dir) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/rollout-test-" + pattern_suffix + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (dir) {
    if (mkdtemp(buf.data()) == nullptr) std::abort();
  } else {
    const int fd = mkstemp(buf.data());
    if (fd < 0) std::abort();
    close(fd);
  }
  return buf.data();
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv)
    : log_path_(MakeTempPath("log", /*dir=*/false)) {
  // Everything the child needs is built before fork(): between fork() and exec() the child
  // may call only async-signal-safe functions. An allocation there can wait forever on a
  // malloc lock that another thread of the test held at the fork (a child that hangs with
  // an empty log, seen under ASan).
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open(log_path_.c_str(), O_WRONLY | O_TRUNC);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    // Tests may block signals in their own threads; the child starts with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (running()) {
    kill(pid_, SIGKILL);
    WaitForExit(absl::Seconds(5));
  }
  unlink(log_path_.c_str());
}

int64_t ChildProcess::RssKib() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

int64_t ChildProcess::CpuTicks() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 2));  // from field 3, the state
  std::string f;
  int64_t ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stoll(f);  // utime, stime
  }
  return ticks;
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ChildProcess::WaitForLine(const std::string& regex, absl::Duration timeout) {
  const RE2 re(regex);
  const absl::Time deadline = absl::Now() + timeout;
  do {
    for (absl::string_view view : absl::StrSplit(Log(), '\n')) {
      const re2::StringPiece line(view.data(), view.size());
      std::string group;
      if (re.NumberOfCapturingGroups() > 0 ? RE2::PartialMatch(line, re, &group)
                                           : RE2::PartialMatch(line, re)) {
        return re.NumberOfCapturingGroups() > 0 ? group : std::string(view);
      }
    }
    if (!running()) return "";
    absl::SleepFor(absl::Milliseconds(10));
  } while (absl::Now() < deadline);
  return "";
}

void ChildProcess::Signal(int signo) {
  if (running()) kill(pid_, signo);
}

bool ChildProcess::running() {
  if (exit_code_.has_value() || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

std::optional<int> ChildProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (running()) {
    if (absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return exit_code_;
}

int RunCommand(const std::vector<std::string>& argv, std::string* output, absl::Duration timeout) {
  ChildProcess child(argv);
  std::optional<int> code = child.WaitForExit(timeout);
  if (output != nullptr) *output = child.Log();
  return code.value_or(-1);
}

TempDir::TempDir() : path_(MakeTempPath("dir", /*dir=*/true)) {}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::WriteFile(const std::string& name, const std::string& content) const {
  const std::string full = path_ + "/" + name;
  std::ofstream(full) << content;
  return full;
}

}  // namespace rollout::testing
