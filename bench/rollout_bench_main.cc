// rollout-bench: a gRPC load generator for rollout-proxy and its peers.
//
//   rollout-bench --target 127.0.0.1:8500 --connections 8 --streams 16 --duration 10s
//   rollout-bench --target 127.0.0.1:8500 --rate 5000 --duration 30s     # open loop
//   rollout-bench --target 127.0.0.1:8500 --stream --connections 1 --streams 4
//   rollout-bench --target 127.0.0.1:8500 --rate 2000 --stream-share 0.1 --model resnet
//                                      # 90% unary ModelInfer, 10% streams of 100 messages
//   rollout-bench ... --json
//
// Exit codes: 0 ok, 1 no call succeeded, 2 bad command line.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/load_generator.h"

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detection on:
  // it costs gRPC's every lock a graph update (about 3% of the proxy's CPU in a profile).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"rollout-bench: gRPC load, closed or open loop, unary or bidi streaming"};
  rollout::bench::LoadOptions o;
  std::string duration = "10s", warmup = "1s", timeout = "5s";
  bool json = false;
  app.add_option("--target", o.target, "host:port to load")->required();
  app.add_option("--method", o.method,
                 "gRPC method; the payload is raw bytes (default /rollout.testing.Echo/Unary, "
                 "or /rollout.testing.Echo/Bidi with --stream)");
  app.add_flag("--stream", o.stream, "bidi streams: each message's round trip is one call");
  app.add_option("--connections,-c", o.connections, "TCP connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--streams,-m", o.streams, "closed loop: calls in flight per connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--rate", o.rate, "open loop: calls per second in total (0: closed loop)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  app.add_option("--threads", o.threads, "completion-queue threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--payload", o.payload, "request bytes")->capture_default_str();
  app.add_option("--duration", duration, "measured time")->capture_default_str();
  app.add_option("--warmup", warmup, "time before measuring")->capture_default_str();
  app.add_option("--timeout", timeout, "deadline of each call")->capture_default_str();
  app.add_option("--stream-share", o.stream_share,
                 "open loop: this share of the calls are bidi streams (0.1: every tenth)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--stream-messages", o.stream_messages, "round trips per stream of the mix")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--stream-method", o.stream_method, "the mix's streaming method")
      ->capture_default_str();
  app.add_option("--model", o.model,
                 "send KServe ModelInferRequests for this model (default: raw bytes)");
  app.add_flag("--json", json, "print the report as JSON");
  CLI11_PARSE(app, argc, argv);
  for (auto [flag, text, out] : {std::tuple<const char*, std::string*, absl::Duration*>{
                                     "--duration", &duration, &o.duration},
                                 {"--warmup", &warmup, &o.warmup},
                                 {"--timeout", &timeout, &o.timeout}}) {
    if (!absl::ParseDuration(*text, out) || *out < absl::ZeroDuration()) {
      std::fprintf(stderr, "rollout-bench: %s: \"%s\" is not a duration (e.g. 10s)\n", flag,
                   text->c_str());
      return 2;
    }
  }
  if (o.duration <= absl::ZeroDuration()) {
    std::fprintf(stderr, "rollout-bench: --duration must be > 0\n");
    return 2;
  }
  if (o.stream && o.rate > 0) {
    std::fprintf(stderr, "rollout-bench: --rate (open loop) is for unary calls only\n");
    return 2;
  }
  if (o.stream_share > 0 && o.rate == 0) {
    std::fprintf(stderr, "rollout-bench: --stream-share needs --rate (an open loop)\n");
    return 2;
  }
  if (o.method.empty() && !o.model.empty()) o.method = "/inference.GRPCInferenceService/ModelInfer";
  if (o.method.empty()) {
    o.method = o.stream ? "/rollout.testing.Echo/Bidi" : "/rollout.testing.Echo/Unary";
  }
  const rollout::bench::LoadReport report = rollout::bench::RunLoad(o);
  std::printf("%s", json ? (report.ToJson() + "\n").c_str() : report.ToText().c_str());
  return report.codes.count("OK") > 0 ? 0 : 1;
}
