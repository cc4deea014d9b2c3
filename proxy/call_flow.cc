#include "proxy/call_flow.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rollout::proxy {
namespace {

// gRPC's status codes, which absl::StatusCode numbers the same way.
constexpr int kResourceExhausted = static_cast<int>(absl::StatusCode::kResourceExhausted);
constexpr int kUnavailable = static_cast<int>(absl::StatusCode::kUnavailable);

}  // namespace

CallFlow::Verdict CallFlow::Start(const routing::CallAttributes& attrs,
                                  CallRouter::MirrorBudget mirrors, int64_t now_ns) {
  if (!listener_slot_.Acquire(listener_limit_)) {
    return Fail(kResourceExhausted,
                absl::StrCat("rollout-proxy: the listener is at its limit of ",
                             listener_limit_->max(), " concurrent calls (max_concurrent_calls)"));
  }
  return Route(attrs, mirrors, now_ns);
}

CallFlow::Verdict CallFlow::Route(const routing::CallAttributes& attrs,
                                  CallRouter::MirrorBudget mirrors, int64_t now_ns) {
  if (start_ns_ == 0) start_ns_ = now_ns;  // the call's time includes waiting for its model
  bool needs_model = false;
  const absl::Status routed = router_->Route(attrs, now_ns, mirrors, &target_, &needs_model);
  if (routed.ok() && needs_model) {
    phase_ = Phase::kNeedsModel;
    return {Verdict::kNeedModel};
  }
  if (!routed.ok()) {
    // A pool with no usable endpoint counts against the pool; other refusals happen before
    // a pool is chosen and are not recorded.
    if (target_.endpoint == nullptr && target_.stats != nullptr) {
      target_.stats->OnStart();
    } else {
      target_.stats = nullptr;
    }
    return Fail(static_cast<int>(routed.code()), std::string(routed.message()));
  }
  target_.stats->OnStart();
  if (!pool_slot_.Acquire(target_.pool->limit)) {
    return Fail(
        kResourceExhausted,
        absl::StrCat("rollout-proxy: pool \"", *target_.pool->name, "\" is at its limit of ",
                     target_.pool->limit->max(), " concurrent calls (max_concurrent_calls)"));
  }
  attempted_ = true;
  phase_ = Phase::kAttempting;
  return {Verdict::kSend};
}

void CallFlow::Sent() {
  ++target_.endpoint->outstanding;
  on_endpoint_ = true;
  phase_ = Phase::kOnBackend;
}

CallFlow::Verdict CallFlow::AttemptFailed(absl::string_view why, bool may_retry, int64_t now_ns) {
  if (on_endpoint_) {
    --target_.endpoint->outstanding;
    on_endpoint_ = false;
  }
  if (may_retry && retries_ < kMaxRetries) {
    if (UpstreamSet::Endpoint* next =
            router_->PickAnother(target_.pool, target_.endpoint, now_ns)) {
      target_.endpoint->state->RecordCall(/*failed=*/true, target_.pool->outlier,
                                          target_.pool->states);
      ++retries_;
      target_.stats->OnRetry();
      target_.endpoint = next;
      phase_ = Phase::kAttempting;
      return {Verdict::kSend};
    }
  }
  return Fail(
      kUnavailable,
      absl::StrCat("rollout-proxy: pool \"", *target_.pool->name, "\" endpoint ",
                   target_.endpoint->address, " is unavailable",
                   retries_ > 0 ? absl::StrCat(" (the last of ", retries_ + 1, " tried)") : "",
                   ": ", why));
}

void CallFlow::End(int code, int64_t now_ns) {
  if (phase_ == Phase::kEnded) return;
  phase_ = Phase::kEnded;
  if (target_.stats != nullptr) {
    target_.stats->OnEnd(code, static_cast<uint64_t>(now_ns - start_ns_), now_ns);
  }
  if (on_endpoint_) {
    --target_.endpoint->outstanding;
    on_endpoint_ = false;
  }
  // The endpoint of the last attempt, whether or not its stream ever opened.
  if (attempted_) {
    target_.endpoint->state->RecordCall(code == kUnavailable, target_.pool->outlier,
                                        target_.pool->states);
  }
}

CallFlow::Verdict CallFlow::Fail(int code, std::string message) {
  phase_ = Phase::kRefused;
  return {Verdict::kFail, code, std::move(message)};
}

}  // namespace rollout::proxy
