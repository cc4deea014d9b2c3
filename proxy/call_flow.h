// CallFlow: the proxy's policy for one call, apart from the wire that carries it. The
// transport (h2::H2Call) reports what happens on the wire and does what the flow decides:
//
//   listener slot -> route -> (the first message's model, then route again) -> pool slot
//   -> endpoint pick -> attempt -> (an attempt that never reached its endpoint: another
//   endpoint of the pool, at most kMaxRetries times) -> the end record and metrics.
//
// Every refusal the proxy makes itself comes back as a Verdict with the gRPC status and the
// message the client gets. The call's state is an explicit Phase.
//
//   CallFlow flow(&router, &listener_limit);
//   Verdict v = flow.Start(attrs, mirrors, now);      // kSend, kNeedModel or kFail
//   ... kNeedModel: attrs.model = ...; v = flow.Route(attrs, mirrors, now);
//   ... kSend: open a stream to flow.target().endpoint; flow.Sent() once it is open
//   ... it never reached the endpoint: v = flow.AttemptFailed(why, now);
//   flow.End(code, now);                                // once, with the client's status
//
// Thread-safety: one worker thread, as its CallRouter.
#ifndef ROLLOUT_PROXY_CALL_FLOW_H_
#define ROLLOUT_PROXY_CALL_FLOW_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proxy/call_router.h"
#include "proxy/concurrency_limit.h"
#include "routing/routing_table.h"

namespace rollout::proxy {

class CallFlow final {
 public:
  static constexpr int kMaxRetries = 2;

  enum class Phase : uint8_t {
    kNew,         // nothing decided yet
    kNeedsModel,  // routed to a route that depends on the first message's model
    kAttempting,  // an endpoint is chosen; the transport is opening its stream
    kOnBackend,   // the stream to the endpoint is open
    kRefused,     // the proxy refused the call (see the Verdict it gave)
    kEnded,       // End() was called
  };
  // What the transport does next.
  struct Verdict {
    enum Kind : uint8_t { kSend, kNeedModel, kFail } kind;
    int code = 0;         // kFail: the gRPC status the client gets
    std::string message;  // kFail: its grpc-message
  };

  CallFlow(CallRouter* router, ConcurrencyLimit* listener_limit)
      : router_(router), listener_limit_(listener_limit) {}
  CallFlow(const CallFlow&) = delete;
  CallFlow& operator=(const CallFlow&) = delete;

  // Takes a listener slot, then routes.
  Verdict Start(const routing::CallAttributes& attrs, CallRouter::MirrorBudget mirrors,
                int64_t now_ns);
  // Routes (again, once attrs.model is known); on a pool, takes its slot and picks.
  Verdict Route(const routing::CallAttributes& attrs, CallRouter::MirrorBudget mirrors,
                int64_t now_ns);
  // The stream to target().endpoint is open: it counts in the endpoint's calls in flight.
  void Sent();
  // The attempt on target().endpoint never reached it (nothing was sent): kSend with
  // another endpoint of the pool, or kFail (UNAVAILABLE naming the pool, the endpoint and
  // `why`). `may_retry`: the client is still there to answer.
  Verdict AttemptFailed(absl::string_view why, bool may_retry, int64_t now_ns);
  // The call's end: metrics, and the endpoint's record for outlier detection. Once; later
  // calls do nothing.
  void End(int code, int64_t now_ns);

  Phase phase() const { return phase_; }
  // A pool was chosen and its endpoint tried: the client gets x-rollout-pool.
  bool attempted() const { return attempted_; }
  const CallRouter::Target& target() const { return target_; }
  int retries() const { return retries_; }

 private:
  Verdict Fail(int code, std::string message);

  CallRouter* const router_;
  ConcurrencyLimit* const listener_limit_;
  CallRouter::Target target_{};
  ConcurrencySlot listener_slot_;
  ConcurrencySlot pool_slot_;
  int64_t start_ns_ = 0;
  int retries_ = 0;
  Phase phase_ = Phase::kNew;
  bool attempted_ = false;
  bool on_endpoint_ = false;  // counted in target_.endpoint->outstanding
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_CALL_FLOW_H_
