// rollout-demo-client: drives live KServe v2 ModelInfer traffic through the proxy and shows,
// as it happens, which version served each call and how fast.
//
//   rollout-demo-client --target 127.0.0.1:8500 --rate 200 --duration 15s
//   rollout-demo-client --target 127.0.0.1:8500 --rate 20 --stream   # generative streams
//
// Each call sends a random [1, 4] FP32 tensor. With --stream, each call is a
// ModelStreamInfer stream of that one request, read to its end (a generative model answers
// with many messages), and the time to its first message is shown too. The pool comes from the
// `x-rollout-pool` response header, the version from ModelInferResponse.model_version. Every
// --interval it prints one line per pool for that interval; at the end, a summary (or JSON with
// --json). Exit code: 0 if at least one call succeeded, 1 otherwise, 2 on a bad command line.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "metrics/log_linear_histogram.h"
#include "metrics/status_code_name.h"

namespace {

using rollout::metrics::LogLinearHistogram;

struct PoolStats {
  uint64_t calls = 0;
  std::map<std::string, uint64_t> errors;    // by status code name
  std::map<std::string, uint64_t> versions;  // model_version of successful answers
  LogLinearHistogram latency_ns;
  LogLinearHistogram first_message_ns;  // streams only

  void Merge(const PoolStats& other) {
    calls += other.calls;
    for (const auto& [k, v] : other.errors) errors[k] += v;
    for (const auto& [k, v] : other.versions) versions[k] += v;
    latency_ns.Merge(other.latency_ns);
    first_message_ns.Merge(other.first_message_ns);
  }
  uint64_t error_count() const {
    uint64_t n = 0;
    for (const auto& [k, v] : errors) n += v;
    return n;
  }
};

using StatsByPool = std::map<std::string, PoolStats>;

// Collects results from the sender threads. Thread-safe (one mutex; the demo sends at most
// a few thousand calls per second, far below where that would matter).
class Recorder {
 public:
  void Record(const std::string& pool, const grpc::Status& status, const std::string& version,
              absl::Duration latency, std::optional<absl::Duration> first_message = std::nullopt) {
    std::lock_guard<std::mutex> lock(mu_);
    PoolStats& s = interval_[pool];
    ++s.calls;
    if (status.ok()) {
      ++s.versions[version];
    } else {
      ++s.errors[rollout::metrics::StatusCodeName(status.error_code())];
      last_error_ = status.error_message();
    }
    s.latency_ns.Record(absl::ToInt64Nanoseconds(latency));
    if (first_message.has_value()) {
      s.first_message_ns.Record(absl::ToInt64Nanoseconds(*first_message));
    }
  }
  // Returns the interval's stats and folds them into the totals.
  StatsByPool TakeInterval(std::string* last_error) {
    std::lock_guard<std::mutex> lock(mu_);
    StatsByPool out;
    out.swap(interval_);
    for (const auto& [pool, s] : out) total_[pool].Merge(s);
    *last_error = std::move(last_error_);
    last_error_.clear();
    return out;
  }
  StatsByPool Total() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }

 private:
  std::mutex mu_;
  StatsByPool interval_;
  StatsByPool total_;
  std::string last_error_;
};

std::string Ms(uint64_t ns) { return absl::StrFormat("%.2fms", ns / 1e6); }

void PrintTable(const StatsByPool& stats, const char* label) {
  uint64_t all = 0;
  for (const auto& [pool, s] : stats) all += s.calls;
  for (const auto& [pool, s] : stats) {
    std::string versions;
    for (const auto& [v, n] : s.versions) versions += absl::StrFormat(" %s:%d", v, n);
    const std::string first =
        s.first_message_ns.count() == 0
            ? ""
            : absl::StrFormat("  first message p99 %8s", Ms(s.first_message_ns.Quantile(0.99)));
    std::printf(
        "%-8s pool %-6s %6llu calls %5.1f%%  errors %4llu  p50 %8s  p99 %8s%s  versions%s\n", label,
        pool.c_str(), static_cast<unsigned long long>(s.calls), all ? 100.0 * s.calls / all : 0.0,
        static_cast<unsigned long long>(s.error_count()), Ms(s.latency_ns.Quantile(0.5)).c_str(),
        Ms(s.latency_ns.Quantile(0.99)).c_str(), first.c_str(), versions.c_str());
  }
  std::fflush(stdout);
}

nlohmann::json ToJson(const StatsByPool& stats, absl::Duration elapsed) {
  nlohmann::json out;
  uint64_t all = 0;
  for (const auto& [pool, s] : stats) all += s.calls;
  out["calls"] = all;
  out["seconds"] = absl::ToDoubleSeconds(elapsed);
  for (const auto& [pool, s] : stats) {
    nlohmann::json p;
    p["calls"] = s.calls;
    p["share"] = all ? static_cast<double>(s.calls) / all : 0.0;
    p["errors"] = s.errors;
    p["model_versions"] = s.versions;
    p["latency_seconds"] = {{"p50", s.latency_ns.Quantile(0.5) / 1e9},
                            {"p99", s.latency_ns.Quantile(0.99) / 1e9},
                            {"mean", s.latency_ns.Mean() / 1e9}};
    if (s.first_message_ns.count() > 0) {
      p["first_message_seconds"] = {{"p50", s.first_message_ns.Quantile(0.5) / 1e9},
                                    {"p99", s.first_message_ns.Quantile(0.99) / 1e9}};
    }
    out["pools"][pool] = p;
  }
  return out;
}

}  // namespace

// A request with four random features.
inference::ModelInferRequest RandomRequest(const std::string& model, absl::BitGen& rng) {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  input->add_shape(1);
  input->add_shape(4);
  float features[4];
  for (float& f : features) f = absl::Uniform(rng, 0.0f, 8.0f);
  request.add_raw_input_contents(std::string(reinterpret_cast<char*>(features), sizeof(features)));
  return request;
}

// The pool that answered, from the proxy's x-rollout-pool header.
std::string PoolOf(const grpc::ClientContext& ctx) {
  auto it = ctx.GetServerInitialMetadata().find("x-rollout-pool");
  if (it == ctx.GetServerInitialMetadata().end()) return "(none)";
  return std::string(it->second.data(), it->second.size());
}

// One ModelInfer call, recorded by the pool that answered it.
void CallOnce(inference::GRPCInferenceService::Stub& stub, const std::string& model,
              absl::Duration timeout, absl::BitGen& rng, Recorder& recorder) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  inference::ModelInferResponse response;
  const absl::Time sent = absl::Now();
  grpc::Status status = stub.ModelInfer(&ctx, RandomRequest(model, rng), &response);
  recorder.Record(PoolOf(ctx), status, response.model_version(), absl::Now() - sent);
}

// One ModelStreamInfer stream of one request, read to its end; an answer with an error
// message counts as a failed call, as Triton reports errors in the stream.
void StreamOnce(inference::GRPCInferenceService::Stub& stub, const std::string& model,
                absl::Duration timeout, absl::BitGen& rng, Recorder& recorder) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  const absl::Time sent = absl::Now();
  auto stream = stub.ModelStreamInfer(&ctx);
  stream->Write(RandomRequest(model, rng));
  stream->WritesDone();
  inference::ModelStreamInferResponse reply;
  std::optional<absl::Duration> first;
  std::string version, error;
  while (stream->Read(&reply)) {
    if (!first.has_value()) first = absl::Now() - sent;
    if (!reply.error_message().empty()) error = reply.error_message();
    version = reply.infer_response().model_version();
  }
  grpc::Status status = stream->Finish();
  if (status.ok() && !error.empty()) status = grpc::Status(grpc::StatusCode::UNKNOWN, error);
  recorder.Record(PoolOf(ctx), status, version, absl::Now() - sent, first);
}

// Prints one line per pool every `interval` until `end`.
void Report(Recorder& recorder, absl::Time start, absl::Time end, absl::Duration interval,
            bool json) {
  absl::Time tick = start;
  while (absl::Now() < end) {
    tick += interval;
    absl::SleepFor(std::min(tick, end) - absl::Now());
    std::string last_error;
    StatsByPool stats = recorder.TakeInterval(&last_error);
    if (json) continue;
    PrintTable(stats,
               absl::StrFormat("[%5.1fs]", absl::ToDoubleSeconds(absl::Now() - start)).c_str());
    if (!last_error.empty()) std::printf("         last error: %s\n", last_error.c_str());
  }
}

struct Flags {
  std::string target = "127.0.0.1:8500";
  std::string model = "classifier";
  double rate = 200;
  int concurrency = 4;
  absl::Duration duration, interval, timeout;
  bool json = false;
  bool stream = false;
};

// Fills `f` from the command line; returns -1 to go on, or the exit code.
int ParseFlags(int argc, char** argv, Flags* f) {
  CLI::App app{"rollout-demo-client: live KServe v2 traffic through rollout-proxy"};
  std::string duration_text = "10s";
  std::string interval_text = "1s";
  std::string timeout_text = "2s";
  app.add_option("--target", f->target, "proxy (or server) host:port")->capture_default_str();
  app.add_option("--model", f->model, "model name to call")->capture_default_str();
  app.add_option("--rate", f->rate, "calls per second in total (0: as fast as possible)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--concurrency", f->concurrency, "sender threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--duration", duration_text, "how long to send, e.g. 30s")->capture_default_str();
  app.add_option("--interval", interval_text, "how often to print a line per pool")
      ->capture_default_str();
  app.add_option("--timeout", timeout_text, "deadline of each call")->capture_default_str();
  app.add_flag("--json", f->json, "print the final summary as JSON only");
  app.add_flag("--stream", f->stream,
               "make each call a ModelStreamInfer stream of one request, read to its end");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!absl::ParseDuration(duration_text, &f->duration) || f->duration <= absl::ZeroDuration() ||
      !absl::ParseDuration(interval_text, &f->interval) || f->interval <= absl::ZeroDuration() ||
      !absl::ParseDuration(timeout_text, &f->timeout) || f->timeout <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "rollout-demo-client: --duration, --interval and --timeout take "
                 "positive durations such as 500ms, 10s, 1m\n");
    return 2;
  }

  return -1;
}

int main(int argc, char** argv) {
  Flags f;
  if (const int code = ParseFlags(argc, argv, &f); code >= 0) return code;
  const std::string& target = f.target;
  const std::string& model = f.model;
  const double rate = f.rate;
  const int concurrency = f.concurrency;
  const absl::Duration duration = f.duration, interval = f.interval, timeout = f.timeout;
  const bool json = f.json;
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = inference::GRPCInferenceService::NewStub(channel);
  Recorder recorder;
  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  std::atomic<bool> stop{false};

  std::vector<std::thread> senders;
  for (int t = 0; t < concurrency; ++t) {
    senders.emplace_back([&, t] {
      absl::BitGen rng;
      const absl::Duration period =
          rate > 0 ? absl::Seconds(concurrency / rate) : absl::ZeroDuration();
      absl::Time next = start + period * t / concurrency;
      while (!stop.load(std::memory_order_relaxed)) {
        if (period > absl::ZeroDuration()) {
          if (next > absl::Now()) absl::SleepFor(next - absl::Now());
          next += period;
        }
        if (absl::Now() >= end) break;
        (f.stream ? StreamOnce : CallOnce)(*stub, model, timeout, rng, recorder);
      }
    });
  }

  if (!json) {
    std::printf("sending %s(%s) to %s at %s for %s; one line per pool every %s\n",
                f.stream ? "ModelStreamInfer" : "ModelInfer", model.c_str(), target.c_str(),
                rate > 0 ? absl::StrFormat("%.0f calls/s", rate).c_str() : "full speed",
                absl::FormatDuration(duration).c_str(), absl::FormatDuration(interval).c_str());
  }
  Report(recorder, start, end, interval, json);
  stop = true;
  for (auto& t : senders) t.join();
  std::string last_error;
  recorder.TakeInterval(&last_error);
  const StatsByPool total = recorder.Total();
  const absl::Duration elapsed = absl::Now() - start;
  if (json) {
    std::printf("%s\n", ToJson(total, elapsed).dump(2).c_str());
  } else {
    std::printf("---- summary over %s ----\n", absl::FormatDuration(elapsed).c_str());
    PrintTable(total, "total");
  }
  uint64_t ok = 0;
  for (const auto& [pool, s] : total) ok += s.calls - s.error_count();
  return ok > 0 ? 0 : 1;
}
