#include "proxy/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "routing/split_mix.h"

namespace rollout::proxy {
namespace {

int OpenFile(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

// The share `p` (0..1) of 2^64, for comparison with a uniform 64-bit draw.
uint64_t Threshold(double p) {
  if (p >= 1) return ~uint64_t{0};
  if (p <= 0) return 0;
  return static_cast<uint64_t>(p * 18446744073709551616.0);
}

}  // namespace

uint64_t AccessLog::Shard::Next() { return routing::SplitMix64Next(rng_); }

void AccessLog::Shard::Append(const AccessLogEntry& entry) {
  line_.clear();
  AppendAccessLogLine(entry, log_->spec_.format, &line_);
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size() + line_.size() > kMaxPendingBytes) {
      ++dropped_;
      return;
    }
    wake = pending_.size() < kWakeBytes && pending_.size() + line_.size() >= kWakeBytes;
    pending_.append(line_);
    ++lines_;
  }
  if (wake) log_->Wake();
}

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(const routing::AccessLogSpec& spec,
                                                           int workers) {
  const int fd = OpenFile(spec.path);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("access_log.path: cannot open ", spec.path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<AccessLog>(new AccessLog(spec, fd, workers));
}

AccessLog::AccessLog(const routing::AccessLogSpec& spec, int fd, int workers)
    : spec_(spec), fd_(fd) {
  for (int i = 0; i < workers; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->log_ = this;
    shard->sample_ = Threshold(spec.sample);
    shard->sample_errors_ = Threshold(spec.sample_errors);
    shard->rng_ = 0x6a09e667f3bcc909ULL ^ (static_cast<uint64_t>(i + 1) * 0x9e3779b97f4a7c15ULL) ^
                  static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    shards_.push_back(std::move(shard));
  }
  writer_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_ = true;
  }
  wake_.notify_one();
  writer_.join();
  ::close(fd_);
}

void AccessLog::Reopen() {
  reopen_.store(true);
  Wake();
}

void AccessLog::Wake() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    woken_ = true;
  }
  wake_.notify_one();
}

AccessLog::Counts AccessLog::counts() const {
  Counts c;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu_);
    c.lines += shard->lines_;
    c.dropped += shard->dropped_;
  }
  c.write_errors = write_errors_.load(std::memory_order_relaxed);
  return c;
}

void AccessLog::Run() {
  for (;;) {
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(wake_mu_);
      wake_.wait_for(lock, absl::ToChronoMilliseconds(kFlushInterval),
                     [this] { return stop_ || woken_; });
      woken_ = false;
      stop = stop_;
    }
    if (reopen_.exchange(false)) {
      Flush();  // what came before the rotation goes to the old file
      ReopenNow();
    }
    while (Flush() && !stop) {
    }
    if (stop) {
      Flush();
      return;
    }
  }
}

bool AccessLog::Flush() {
  bool any = false;
  std::string text;
  for (const auto& shard : shards_) {
    {
      std::lock_guard<std::mutex> lock(shard->mu_);
      if (shard->pending_.empty()) continue;
      text.swap(shard->pending_);
    }
    any = true;
    WriteAll(text);
    text.clear();
  }
  return any;
}

void AccessLog::WriteAll(const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (write_errors_.fetch_add(1) == 0) {
        log::Error(absl::StrCat("access log: cannot write ", spec_.path, ": ", std::strerror(errno),
                                " (lines are lost until it can)"));
      }
      return;
    }
    off += static_cast<size_t>(n);
  }
}

void AccessLog::ReopenNow() {
  const int fd = OpenFile(spec_.path);
  if (fd < 0) {
    log::Error(absl::StrCat("access log: cannot reopen ", spec_.path, ": ", std::strerror(errno),
                            "; still writing to the file it had"));
    return;
  }
  ::close(fd_);
  fd_ = fd;
  log::Info(absl::StrCat("access log: reopened ", spec_.path));
}

}  // namespace rollout::proxy
