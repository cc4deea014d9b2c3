// ListenerCounters: what happened to the data listener's client connections, and the HTTP/2
// abuse the proxy fended off, as counters that the workers bump and /metrics exports:
//
//   rollout_proxy_downstream_connections                            gauge, open now
//   rollout_proxy_downstream_connections_accepted_total             counter
//   rollout_proxy_downstream_connections_rejected_total{reason}     max_connections |
//                                                                   accept_error
//   rollout_proxy_downstream_timeouts_total{timeout}                idle | handshake | header
//   rollout_proxy_http2_violations_total{violation}                 see Violation below
//   rollout_proxy_tls_handshake_failures_total{reason}              see TlsFailure below
//
// These events are per connection or per attack, never per call, so one set of shared
// relaxed atomics serves every worker.
//
// Thread-safety: every method may be called from any thread.
#ifndef ROLLOUT_METRICS_LISTENER_COUNTERS_H_
#define ROLLOUT_METRICS_LISTENER_COUNTERS_H_

#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"

namespace rollout::metrics {

class ListenerCounters final {
 public:
  enum class Rejection { kMaxConnections, kAcceptError, kCount };
  enum class Timeout { kIdle, kHandshake, kHeader, kCount };
  // What a client did that the proxy refused (each a bounded label value).
  enum class Violation {
    kInvalidHeader,       // a field name, value or -bin value that HTTP/2 or gRPC forbids
    kHeaderListTooLarge,  // over max_header_list_bytes
    kTooManyStreams,      // over max_concurrent_streams
    kRapidReset,          // most streams reset by the client before their answer
    kFlood,               // SETTINGS or PING acknowledgements piling up unread
    kContinuationFlood,   // too many CONTINUATION frames for one header block
    kEmptyFrames,         // DATA frames without payload, in a row
    kStreamAfterGoaway,   // a stream opened after the proxy's own GOAWAY
    kProtocolError,       // anything else nghttp2 refused (bad preface, stream 0, ...)
    kCount
  };
  // Why a TLS handshake on the listener failed.
  enum class TlsFailure {
    kNoClientCertificate,  // mTLS, and the client sent none
    kBadCertificate,       // its chain does not lead to client_ca_file (or is invalid)
    kSanNotAllowed,        // none of its SANs is in allowed_client_sans
    kNoH2,                 // ALPN without "h2"
    kNotTls,               // plaintext (HTTP/2 or HTTP/1) on the TLS port
    kHandshakeError,       // anything else, the peer's alerts and disconnects included
    kCount
  };

  void ConnectionOpened() {
    accepted_.fetch_add(1, std::memory_order_relaxed);
    open_.fetch_add(1, std::memory_order_relaxed);
  }
  void ConnectionClosed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t open() const { return open_.load(std::memory_order_relaxed); }
  void Count(Rejection r) { Bump(rejections_, r); }
  void Count(Timeout t) { Bump(timeouts_, t); }
  void Count(Violation v) { Bump(violations_, v); }
  void Count(TlsFailure f) { Bump(tls_failures_, f); }
  uint64_t count(Rejection r) const { return Read(rejections_, r); }
  uint64_t count(Timeout t) const { return Read(timeouts_, t); }
  uint64_t count(Violation v) const { return Read(violations_, v); }
  uint64_t count(TlsFailure f) const { return Read(tls_failures_, f); }

  static absl::string_view Name(Rejection r);
  static absl::string_view Name(Timeout t);
  static absl::string_view Name(Violation v);
  static absl::string_view Name(TlsFailure f);

  // The families above, with every label value present (zero until it happens).
  std::vector<prometheus::MetricFamily> Families() const;

 private:
  template <typename E>
  using Cells = std::array<std::atomic<uint64_t>, static_cast<size_t>(E::kCount)>;
  template <typename E>
  static void Bump(Cells<E>& cells, E e) {
    cells[static_cast<size_t>(e)].fetch_add(1, std::memory_order_relaxed);
  }
  template <typename E>
  static uint64_t Read(const Cells<E>& cells, E e) {
    return cells[static_cast<size_t>(e)].load(std::memory_order_relaxed);
  }

  std::atomic<int64_t> open_{0};
  std::atomic<uint64_t> accepted_{0};
  Cells<Rejection> rejections_{};
  Cells<Timeout> timeouts_{};
  Cells<Violation> violations_{};
  Cells<TlsFailure> tls_failures_{};
};

}  // namespace rollout::metrics

#endif  // ROLLOUT_METRICS_LISTENER_COUNTERS_H_
