// LoadGenerator: gRPC load on the async generic API, for rollout-bench.
//
// Closed loop: `connections` channels, each keeping `streams` calls in flight; a call that
// ends is replaced at once. Open loop: `rate` calls per second in total, sent on schedule
// whatever the answers do, and each call's latency is measured from the time it was due,
// not from when it went out, so a stall shows up in the latency (no coordinated omission).
// Unary mode sends one message per call; stream mode keeps one bidi stream per slot and
// times each message's round trip. A mixed open loop (stream_share > 0) makes that share of
// the scheduled calls bidi streams of stream_messages round trips each, timed apart from
// the unary calls (the stream_* fields of the report).
//
//   LoadOptions o;
//   o.target = "127.0.0.1:8500";
//   o.connections = 8; o.streams = 16; o.duration = absl::Seconds(10);
//   LoadReport r = RunLoad(o);  // r.rps, r.latency quantiles, r.codes
//
// Thread-safety: RunLoad blocks; it runs its own threads.
#ifndef ROLLOUT_BENCH_LOAD_GENERATOR_H_
#define ROLLOUT_BENCH_LOAD_GENERATOR_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"

namespace rollout::bench {

struct LoadOptions {
  std::string target;
  std::string method;    // default: /rollout.testing.Echo/Unary, or .../Bidi with `stream`
  bool stream = false;   // bidi streams instead of unary calls
  int connections = 1;   // channels, each with its own TCP connection
  int streams = 1;       // closed loop: calls in flight per connection
  double rate = 0;       // open loop: calls per second in total; 0 means closed loop
  int threads = 1;       // completion-queue threads
  size_t payload = 100;  // bytes per request message
  absl::Duration duration = absl::Seconds(10);
  absl::Duration warmup = absl::Seconds(1);   // not counted
  absl::Duration timeout = absl::Seconds(5);  // per call (unary) or stream
  // Open loop only: the share of scheduled calls that are streams (every 1/share-th call).
  double stream_share = 0;
  int stream_messages = 100;  // round trips per stream of the mix
  std::string stream_method = "/rollout.testing.Echo/Bidi";
  // Non-empty: each request is a KServe ModelInferRequest for this model (raw_input_contents
  // pads it to `payload` bytes), as a Triton client's ModelInfer would send.
  std::string model;
};

struct LoadReport {
  double seconds = 0;  // measured time
  uint64_t calls = 0;  // unary calls, or stream messages, that ended in the measured time
  double rps = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;  // seconds
  std::map<std::string, uint64_t> codes;                          // gRPC status code name -> calls
  std::map<std::string, uint64_t> backends;  // x-bench-backend -> calls (unary mode)
  uint64_t late = 0;  // open loop: calls sent more than 1 ms after they were due
  // The mix's streams: those that ended in the measured time, and their messages' round trips.
  uint64_t streams = 0, stream_calls = 0;
  double stream_p50 = 0, stream_p90 = 0, stream_p99 = 0, stream_p999 = 0, stream_max = 0;

  std::string ToJson() const;
  std::string ToText() const;
};

LoadReport RunLoad(const LoadOptions& options);

}  // namespace rollout::bench

#endif  // ROLLOUT_BENCH_LOAD_GENERATOR_H_
