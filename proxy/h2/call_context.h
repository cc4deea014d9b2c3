// CallContext: what a worker offers the calls, shadow calls and client connections that run
// on it: its event loop, its router and limits, its clock, and its lists of calls with
// deadlines, Health/Watch calls and mirrors. H2Worker is the one implementation; the code
// below the worker sees it only through this interface, so no include runs back up to it.
//
// Thread-safety: the worker's own thread only.
#ifndef ROLLOUT_PROXY_H2_CALL_CONTEXT_H_
#define ROLLOUT_PROXY_H2_CALL_CONTEXT_H_

#include <cstddef>
#include <cstdint>

#include "absl/container/flat_hash_set.h"
#include "metrics/listener_counters.h"
#include "proxy/access_log.h"
#include "proxy/call_router.h"
#include "proxy/concurrency_limit.h"
#include "proxy/h2/deadline_list.h"
#include "proxy/h2/event_loop.h"
#include "proxy/request_sampler.h"
#include "routing/connection_limits.h"

namespace rollout::proxy::h2 {

class H2Call;
class H2Mirror;

class CallContext : public EventLoop {
 public:
  // What the worker's mirrors may hold in all (H2Mirror::kMaxBytes is per mirror).
  static constexpr size_t kMaxMirrorBytes = 64 << 20;

  virtual CallRouter& router() = 0;
  virtual ConcurrencyLimit& listener_limit() = 0;
  virtual int64_t max_message_bytes() const = 0;
  virtual const routing::ConnectionLimits& limits() const = 0;
  virtual metrics::ListenerCounters& listener_counters() = 0;
  // The proxy reports SERVING (false once the drain began or the admin said so).
  virtual bool serving() const = 0;
  // The Health/Watch calls: told when serving() changes, ended at the drain.
  virtual absl::flat_hash_set<H2Call*>& health_watches() = 0;
  virtual DeadlineList<H2Call>& deadlines() = 0;
  // Shadow calls: how many run (none start once the drain has begun), and the bytes they
  // hold, at most kMaxMirrorBytes.
  virtual CallRouter::MirrorBudget mirror_budget() const = 0;
  virtual void MirrorStarted(H2Mirror* mirror) = 0;
  virtual void MirrorEnded(H2Mirror* mirror) = 0;
  virtual size_t& mirror_bytes() = 0;
  // Where a call's request is copied while its route is sampled (the load-test gate); may
  // be null.
  virtual RequestSampler* sampler() = 0;
  // This worker's shard of the access log; null when there is none.
  virtual AccessLog::Shard* access_log() = 0;

 protected:
  ~CallContext() = default;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_CALL_CONTEXT_H_
