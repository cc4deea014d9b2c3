// AccessLog: the proxy's log of calls (access_log: in the config), written to a file by a
// thread of its own, so that the data path never waits for the disk.
//
// Each worker has a Shard. A call's line is formatted on the worker and appended to the
// shard's pending text under the shard's mutex, which its writer holds only to swap that
// text out, never while writing. When a shard already holds kMaxPendingBytes (the disk is
// slower than the traffic), the line is dropped and counted. The writer wakes every
// kFlushInterval, or sooner once a shard holds kWakeBytes, and writes what the shards hold.
//
//   auto log = AccessLog::Open(spec, workers);        // the file is opened (or an error)
//   AccessLog::Shard* s = (*log)->shard(worker);       // per worker
//   if (s->Sampled(ok)) s->Append(entry);              // per call
//   (*log)->Reopen();                                  // SIGUSR1: logrotate moved the file
//
// Thread-safety: a Shard's Sampled() and Append() from its worker only; the rest from any
// thread. The destructor writes what is pending, then stops the writer.
#ifndef ROLLOUT_PROXY_ACCESS_LOG_H_
#define ROLLOUT_PROXY_ACCESS_LOG_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/access_log_line.h"
#include "routing/access_log_spec.h"

namespace rollout::proxy {

class AccessLog final {
 public:
  static constexpr size_t kMaxPendingBytes = 4 << 20;  // per worker
  static constexpr size_t kWakeBytes = 64 << 10;
  static constexpr absl::Duration kFlushInterval = absl::Milliseconds(200);

  class Shard final {
   public:
    // Whether this call gets a line: `ok` calls with the spec's sample, the others with its
    // sample_errors.
    bool Sampled(bool ok) {
      const uint64_t threshold = ok ? sample_ : sample_errors_;
      return threshold == kAll || Next() < threshold;
    }
    void Append(const AccessLogEntry& entry);

   private:
    friend class AccessLog;
    static constexpr uint64_t kAll = ~uint64_t{0};
    uint64_t Next();

    AccessLog* log_ = nullptr;
    uint64_t sample_ = kAll;         // the share, scaled to 2^64 (kAll: every call)
    uint64_t sample_errors_ = kAll;  // the same for calls that did not end OK
    uint64_t rng_ = 0;
    std::string line_;  // the worker's scratch for one line
    std::mutex mu_;
    std::string pending_ ABSL_GUARDED_BY(mu_);
    uint64_t lines_ ABSL_GUARDED_BY(mu_) = 0;
    uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  };

  // Opens (creates, appends to) spec.path; an error names the path and the reason.
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(const routing::AccessLogSpec& spec,
                                                         int workers);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  Shard* shard(int worker) { return shards_[worker].get(); }
  int workers() const { return static_cast<int>(shards_.size()); }
  const routing::AccessLogSpec& spec() const { return spec_; }

  // The writer closes the file and opens spec.path again (logrotate's postrotate). If that
  // fails, it logs why and keeps writing to the file it had.
  void Reopen();

  struct Counts {
    uint64_t lines = 0;         // handed to the writer
    uint64_t dropped = 0;       // not: their worker's shard was full
    uint64_t write_errors = 0;  // writes the file refused (their lines are lost)
  };
  Counts counts() const;

 private:
  AccessLog(const routing::AccessLogSpec& spec, int fd, int workers);
  void Run();
  // Writes everything the shards hold; returns whether anything was pending.
  bool Flush();
  void WriteAll(const std::string& text);
  void ReopenNow();
  void Wake();

  const routing::AccessLogSpec spec_;
  std::vector<std::unique_ptr<Shard>> shards_;
  int fd_;  // the writer's, once it runs
  std::atomic<bool> reopen_{false};
  std::atomic<uint64_t> write_errors_{0};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool woken_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread writer_;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_ACCESS_LOG_H_
