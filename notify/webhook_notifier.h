// WebhookNotifier: POSTs each rollout phase change, as JSON, to every configured URL.
//
// Notify() only queues the event; one sender thread delivers them in order. A send that
// fails (no answer, or a status that is not 2xx) is retried with exponential backoff,
// up to `max_attempts`; the rollout never waits for it. The queue is bounded: when it is
// full the oldest event is dropped, and the drop is reported on stderr.
//
//   WebhookNotifier notifier({.urls = {"http://hooks.example/rollouts"}});
//   notifier.Notify({{"event", "RolloutPromote"}, ...});
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_NOTIFY_WEBHOOK_NOTIFIER_H_
#define ROLLOUT_NOTIFY_WEBHOOK_NOTIFIER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "rollout/rollout_engine.h"

namespace rollout::control {

struct WebhookOptions {
  std::vector<std::string> urls;
  absl::Duration timeout = absl::Seconds(2);
  int max_attempts = 5;
  absl::Duration first_backoff = absl::Milliseconds(500);
  size_t max_queue = 1000;
};

class WebhookNotifier final : public Notifier {
 public:
  explicit WebhookNotifier(WebhookOptions options);
  ~WebhookNotifier() override;  // delivers what is queued for up to one timeout, then stops

  void Notify(const nlohmann::json& event) override;

  struct Counts {
    uint64_t delivered = 0, retried = 0, failed = 0, dropped = 0;
  };
  Counts counts() const;

 private:
  void Run();
  bool Deliver(const std::string& url, const std::string& body);

  const WebhookOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_);
  Counts counts_ ABSL_GUARDED_BY(mu_);
  std::thread sender_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_NOTIFY_WEBHOOK_NOTIFIER_H_
