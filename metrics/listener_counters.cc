#include "metrics/listener_counters.h"

#include <iterator>
#include <string>
#include <utility>

namespace rollout::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric Counter(std::vector<ClientMetric::Label> labels, uint64_t value) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = static_cast<double>(value);
  return m;
}

// One family with a sample per value of enum E, under label `label`.
template <typename E, typename Read>
MetricFamily PerValue(std::string name, std::string help, const char* label, Read read) {
  MetricFamily family{std::move(name), std::move(help), MetricType::Counter, {}};
  for (size_t i = 0; i < static_cast<size_t>(E::kCount); ++i) {
    const E e = static_cast<E>(i);
    family.metric.push_back(Counter({{label, std::string(ListenerCounters::Name(e))}}, read(e)));
  }
  return family;
}

}  // namespace

// Label values, in the enums' order.
constexpr absl::string_view kRejectionNames[] = {"max_connections", "accept_error"};
constexpr absl::string_view kTimeoutNames[] = {"idle", "handshake", "header"};
constexpr absl::string_view kViolationNames[] = {
    "invalid_header",     "header_list_too_large", "too_many_streams",    "rapid_reset",   "flood",
    "continuation_flood", "empty_frames",          "stream_after_goaway", "protocol_error"};
constexpr absl::string_view kTlsFailureNames[] = {
    "no_client_certificate", "bad_certificate", "san_not_allowed", "no_h2_alpn", "not_tls",
    "handshake_error"};
static_assert(std::size(kTlsFailureNames) ==
              static_cast<size_t>(ListenerCounters::TlsFailure::kCount));
static_assert(std::size(kRejectionNames) ==
              static_cast<size_t>(ListenerCounters::Rejection::kCount));
static_assert(std::size(kTimeoutNames) == static_cast<size_t>(ListenerCounters::Timeout::kCount));
static_assert(std::size(kViolationNames) ==
              static_cast<size_t>(ListenerCounters::Violation::kCount));

absl::string_view ListenerCounters::Name(Rejection r) {
  return kRejectionNames[static_cast<size_t>(r)];
}
absl::string_view ListenerCounters::Name(Timeout t) {
  return kTimeoutNames[static_cast<size_t>(t)];
}
absl::string_view ListenerCounters::Name(TlsFailure f) {
  return kTlsFailureNames[static_cast<size_t>(f)];
}
absl::string_view ListenerCounters::Name(Violation v) {
  return kViolationNames[static_cast<size_t>(v)];
}

std::vector<MetricFamily> ListenerCounters::Families() const {
  std::vector<MetricFamily> out;
  ClientMetric open;
  open.gauge.value = static_cast<double>(this->open());
  out.push_back({"rollout_proxy_downstream_connections",
                 "Client connections open on the data listener.",
                 MetricType::Gauge,
                 {open}});
  out.push_back({"rollout_proxy_downstream_connections_accepted_total",
                 "Client connections accepted on the data listener.",
                 MetricType::Counter,
                 {Counter({}, accepted_.load(std::memory_order_relaxed))}});
  out.push_back(PerValue<Rejection>(
      "rollout_proxy_downstream_connections_rejected_total",
      "Client connections closed as they arrived (max_connections), and accept() failures "
      "(out of file descriptors: the listener backs off).",
      "reason", [this](Rejection r) { return count(r); }));
  out.push_back(PerValue<Timeout>(
      "rollout_proxy_downstream_timeouts_total",
      "Client connections closed by a timeout: idle (no call for idle_timeout), handshake (no "
      "HTTP/2 preface within handshake_timeout), header (a header block left unfinished).",
      "timeout", [this](Timeout t) { return count(t); }));
  out.push_back(PerValue<Violation>(
      "rollout_proxy_http2_violations_total",
      "HTTP/2 misbehaviour by clients that the proxy refused: the stream was reset or the "
      "connection closed, and nothing reached a backend.",
      "violation", [this](Violation v) { return count(v); }));
  out.push_back(PerValue<TlsFailure>(
      "rollout_proxy_tls_handshake_failures_total",
      "TLS handshakes on the data listener that failed, by why (handshakes that never "
      "finish are counted in rollout_proxy_downstream_timeouts_total{timeout=\"handshake\"}).",
      "reason", [this](TlsFailure f) { return count(f); }));
  return out;
}

}  // namespace rollout::metrics
