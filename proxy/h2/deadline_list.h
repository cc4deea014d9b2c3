// DeadlineList<Call>: one worker's calls that carry a deadline (grpc-timeout), and the
// earliest of those deadlines, so that the worker's epoll loop wakes in time for it. `Call`
// has a `CallHook<Call> deadline_hook` and an `int64_t deadline_ns() const`, as H2Call does.
//
// An intrusive list (no allocation per call) scanned when the earliest deadline is due:
// a worker has few calls with deadlines in flight at once, and a scan touches each once.
//
//   DeadlineList<H2Call> list;
//   list.Add(call);                       // call->deadline_ns() is set
//   if (now >= list.next_ns()) list.Expire(now, [](H2Call* c) { c->OnDeadline(); });
//
// Thread-safety: one worker thread.
#ifndef ROLLOUT_PROXY_H2_DEADLINE_LIST_H_
#define ROLLOUT_PROXY_H2_DEADLINE_LIST_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "proxy/h2/call_list.h"

namespace rollout::proxy::h2 {

template <typename Call>
class DeadlineList final {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  void Add(Call* call) {
    LinkCall<&Call::deadline_hook>(&calls_, call);
    next_ns_ = std::min(next_ns_, call->deadline_ns());
  }
  // A call that ended, or was never added: nothing happens to it later.
  void Remove(Call* call) { UnlinkCall<&Call::deadline_hook>(&calls_, call); }
  // The earliest deadline of the calls on the list (it may have left since), or kNever.
  int64_t next_ns() const { return next_ns_; }

  // Takes every call whose deadline is at or before `now_ns` off the list and hands it to
  // `expired`.
  template <typename Fn>
  void Expire(int64_t now_ns, Fn expired) {
    std::vector<Call*> due;
    next_ns_ = kNever;
    for (Call* call = calls_.head; call != nullptr; call = call->deadline_hook.next) {
      if (call->deadline_ns() <= now_ns) {
        due.push_back(call);
      } else {
        next_ns_ = std::min(next_ns_, call->deadline_ns());
      }
    }
    for (Call* call : due) Remove(call);
    for (Call* call : due) expired(call);
  }

 private:
  CallList<Call> calls_;
  int64_t next_ns_ = kNever;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_DEADLINE_LIST_H_
