// HttpReceiver: a tiny HTTP/1.1 server on 127.0.0.1 (port 0) that records the bodies it is
// sent, for webhook tests. The first `fail_first` requests get 500; the rest get 200, with
// the body SetReply() gave (JSON; none by default).
//
//   HttpReceiver hooks(/*fail_first=*/2);
//   ... POST to hooks.url() ...
//   std::vector<std::string> bodies = hooks.WaitFor(1, absl::Seconds(5));
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_TESTS_SUPPORT_HTTP_RECEIVER_H_
#define ROLLOUT_TESTS_SUPPORT_HTTP_RECEIVER_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace rollout::testing {

class HttpReceiver {
 public:
  explicit HttpReceiver(int fail_first = 0);
  ~HttpReceiver();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  int requests() const { return requests_.load(); }
  void SetReply(std::string json) {
    std::lock_guard<std::mutex> lock(mu_);
    reply_ = std::move(json);
  }
  // The bodies of the requests answered 200, once there are at least `n` (or at timeout).
  std::vector<std::string> WaitFor(size_t n, absl::Duration timeout);

 private:
  void Serve();

  int listen_fd_ = -1;
  int port_ = 0;
  const int fail_first_;
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> bodies_;
  std::string reply_;
  std::thread thread_;
};

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_HTTP_RECEIVER_H_
