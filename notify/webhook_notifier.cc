#include "notify/webhook_notifier.h"

#include <cstdio>

#include "absl/time/clock.h"
#include "base/log.h"
#include "rollout/http_client.h"

namespace rollout::control {

WebhookNotifier::WebhookNotifier(WebhookOptions options)
    : options_(std::move(options)), sender_([this] { Run(); }) {}

WebhookNotifier::~WebhookNotifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    stop_deadline_ = absl::Now() + options_.timeout;
  }
  cv_.notify_all();
  sender_.join();
}

void WebhookNotifier::Notify(const nlohmann::json& event) {
  if (options_.urls.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= options_.max_queue) {
      queue_.pop_front();
      ++counts_.dropped;
      log::Warn("webhook queue full: dropped the oldest event");
    }
    queue_.push_back(event.dump());
  }
  cv_.notify_all();
}

WebhookNotifier::Counts WebhookNotifier::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

bool WebhookNotifier::Deliver(const std::string& url, const std::string& body) {
  absl::Duration backoff = options_.first_backoff;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    absl::StatusOr<HttpResponse> r = HttpPostJson(url, body, options_.timeout);
    if (r.ok() && r->status >= 200 && r->status < 300) return true;
    const std::string why =
        r.ok() ? "HTTP " + std::to_string(r->status) : std::string(r.status().message());
    log::Warn(absl::StrCat("webhook ", url, ": attempt ", attempt, "/", options_.max_attempts,
                           " failed: ", why));
    if (attempt == options_.max_attempts) break;
    std::unique_lock<std::mutex> lock(mu_);
    ++counts_.retried;
    // Stopping cuts the backoff short, so shutdown is not held up by a dead receiver.
    if (cv_.wait_for(lock, absl::ToChronoNanoseconds(backoff), [this] { return stopping_; })) {
      return false;
    }
    backoff *= 2;
  }
  return false;
}

void WebhookNotifier::Run() {
  while (true) {
    std::string body;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      if (stopping_ && absl::Now() > stop_deadline_) {
        counts_.dropped += queue_.size();
        log::Warn(absl::StrCat("stopping: ", queue_.size(), " webhook event(s) not delivered"));
        return;
      }
      body = std::move(queue_.front());
      queue_.pop_front();
    }
    for (const std::string& url : options_.urls) {
      const bool ok = Deliver(url, body);
      std::lock_guard<std::mutex> lock(mu_);
      ++(ok ? counts_.delivered : counts_.failed);
    }
  }
}

}  // namespace rollout::control
