// CallCarrier: what an H2Call needs of the client connection that carries its stream.
// DownstreamConnection is the one implementation; through this interface the call does not
// include the connection that creates it, so the two sit on separate floors.
//
// Thread-safety: the worker's own thread only.
#ifndef ROLLOUT_PROXY_H2_CALL_CARRIER_H_
#define ROLLOUT_PROXY_H2_CALL_CARRIER_H_

#include <nghttp2/nghttp2.h>

namespace rollout::proxy::h2 {

class H2Call;
class H2Connection;

class CallCarrier {
 public:
  // The client connection, where the call submits its response.
  virtual H2Connection* connection() = 0;
  // The call is over: the connection tells it nothing more.
  virtual void CallEnded(H2Call* call) = 0;

 protected:
  ~CallCarrier() = default;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_CALL_CARRIER_H_
