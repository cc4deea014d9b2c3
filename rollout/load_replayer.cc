#include "rollout/load_replayer.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "credentials/tls_credentials.h"
#include "metrics/call_series.h"
#include "metrics/status_code_name.h"
#include "rollout/metric_source.h"

namespace rollout::control {

std::optional<std::vector<std::string>> ReplayableMessages(const std::string& body,
                                                           const std::string& append) {
  constexpr size_t kPrefix = 5;
  std::vector<std::string> out;
  for (size_t at = 0; at < body.size();) {
    if (body.size() - at < kPrefix) return std::nullopt;
    const auto* p = reinterpret_cast<const uint8_t*>(body.data()) + at;
    if (p[0] != 0) return std::nullopt;  // compressed: the pin cannot be appended, nor kept
    const uint32_t length =
        (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | uint32_t{p[4]};
    if (body.size() - at - kPrefix < length) return std::nullopt;
    out.emplace_back(body, at + kPrefix, length);
    out.back() += append;
    at += kPrefix + length;
  }
  return out;
}

namespace {

struct Replayable {
  std::string method;
  std::vector<std::string> messages;
};

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

class GrpcLoadTester::Run {
 public:
  Run(proxy::RequestSampler* sampler, LoadTestPlan plan)
      : sampler_(sampler), plan_(std::move(plan)) {
    counts_ = metrics::EmptyCounts(plan_.spec.duration);
    progress_.detail = absl::StrCat("collecting a sample of route ", plan_.route, "'s requests");
  }
  ~Run() { Join(); }

  void Start() {
    thread_ = std::thread([this] {
      Main();
      finished_.store(true);
    });
  }
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    for (grpc::ClientContext* c : calls_) c->TryCancel();
    cv_.notify_all();
  }
  bool finished() const { return finished_.load(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  LoadTestProgress Progress() {
    std::lock_guard<std::mutex> lock(mu_);
    LoadTestProgress p = progress_;
    p.stats = ToPoolStats(metrics::Summarize(counts_));
    p.data["calls"] = sent_;
    p.data["not_sent"] = not_sent_;
    nlohmann::json codes = nlohmann::json::object();  // the answers, by gRPC code
    for (const auto& [code, n] : codes_) codes[metrics::StatusCodeName(code)] = n;
    p.data["codes"] = std::move(codes);
    return p;
  }

  // A replayed call ends (from gRPC's callback threads): Stop() no longer cancels it...
  void Forget(grpc::ClientContext* call) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.erase(call);
  }
  // ...and, once it is deleted (before the channels and the sample may go), it is counted.
  void Ended(int code, int64_t latency_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    --in_flight_;
    Count(code, latency_ns);
    cv_.notify_all();
  }

 private:
  class Call;

  void Main();
  // The sample, as replayable requests; empty (with the stage failed) when there is none.
  std::vector<Replayable> Collect();
  void Replay(const std::vector<Replayable>& sample);
  // Waits until `until`, or Stop(); false once stopped.
  bool SleepUntil(absl::Time until) {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_until(lock, absl::ToChronoTime(until), [&] { return stop_; });
  }
  void Count(int code, int64_t latency_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    using Buckets = metrics::CallSeries::WindowBuckets;
    counts_.classes[static_cast<int>(metrics::ClassOf(code))]++;
    codes_[code]++;
    const uint64_t ns = static_cast<uint64_t>(std::max<int64_t>(latency_ns, 0));
    const uint64_t capped = std::min<uint64_t>(ns, (uint64_t{1} << 38) - 1);
    counts_.buckets[Buckets::Index(capped)]++;
    counts_.max_ns = std::max(counts_.max_ns, capped);
  }
  void Set(LoadTestProgress::Stage stage, std::string detail) {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.stage = stage;
    progress_.detail = std::move(detail);
  }

  proxy::RequestSampler* const sampler_;
  const LoadTestPlan plan_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  LoadTestProgress progress_ ABSL_GUARDED_BY(mu_);
  metrics::WindowCounts counts_ ABSL_GUARDED_BY(mu_);
  std::set<grpc::ClientContext*> calls_ ABSL_GUARDED_BY(mu_);  // in flight, to cancel
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;                     // not yet deleted
  std::map<int, uint64_t> codes_ ABSL_GUARDED_BY(mu_);
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t not_sent_ ABSL_GUARDED_BY(mu_) = 0;
};

// One replayed call: the request's messages out, every answer read and dropped.
class GrpcLoadTester::Run::Call final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Call(Run* run, const std::vector<std::string>* messages) : run_(run), messages_(messages) {}

  grpc::ClientContext* context() { return &context_; }
  void Go(grpc::GenericStub* stub, const std::string& method) {
    context_.set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoNanoseconds(kCallTimeout));
    context_.AddMetadata("x-rollout-load-test", std::to_string(run_->plan_.release));
    stub->PrepareBidiStreamingCall(&context_, method, grpc::StubOptions(), this);
    StartRead(&in_);
    WriteNext();
    started_ns_ = SteadyNs();
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (ok) WriteNext();
  }
  void OnReadDone(bool ok) override {
    if (ok) StartRead(&in_);
  }
  void OnDone(const grpc::Status& status) override {
    const int code = status.error_code();
    const int64_t latency_ns = SteadyNs() - started_ns_;
    Run* const run = run_;
    run->Forget(&context_);
    delete this;
    run->Ended(code, latency_ns);
  }

 private:
  void WriteNext() {
    if (next_ == messages_->size()) {
      if (next_ == 0) StartWritesDone();  // no message: only the half-close
      return;
    }
    grpc::Slice slice((*messages_)[next_]);
    out_ = grpc::ByteBuffer(&slice, 1);
    if (++next_ == messages_->size()) {
      StartWriteLast(&out_, grpc::WriteOptions());
    } else {
      StartWrite(&out_);
    }
  }

  Run* const run_;
  const std::vector<std::string>* const messages_;
  grpc::ClientContext context_;
  grpc::ByteBuffer out_, in_;
  size_t next_ = 0;
  int64_t started_ns_ = 0;
};

void GrpcLoadTester::Run::Main() {
  std::vector<Replayable> sample = Collect();
  if (!sample.empty()) Replay(sample);
}

std::vector<Replayable> GrpcLoadTester::Run::Collect() {
  const LoadTestSpec& spec = plan_.spec;
  if (plan_.endpoints.empty()) {
    Set(LoadTestProgress::Stage::kFailed,
        absl::StrCat("candidate ", plan_.candidate, " has no endpoint to test"));
    return {};
  }
  const uint64_t armed = sampler_->Arm(plan_.route, {spec.sample, spec.max_bytes});
  const absl::Time give_up = absl::Now() + spec.timeout;
  proxy::RequestSampler::Progress p;
  while (true) {
    p = sampler_->Look(plan_.route);
    if (p.full || absl::Now() >= give_up) break;
    Set(LoadTestProgress::Stage::kCollecting,
        absl::StrFormat(
            "collecting a sample of route %s's requests: %d of %d (%d bytes), for up "
            "to %s more",
            plan_.route, p.count, spec.sample, p.bytes,
            absl::FormatDuration(absl::Trunc(give_up - absl::Now(), absl::Seconds(1)))));
    if (!SleepUntil(absl::Now() + absl::Milliseconds(100))) break;
  }
  std::vector<proxy::RequestSampler::Request> taken = sampler_->Disarm(plan_.route, armed);
  std::vector<Replayable> out;
  uint64_t not_replayable = 0;
  for (proxy::RequestSampler::Request& r : taken) {
    std::optional<std::vector<std::string>> m = ReplayableMessages(r.body, plan_.model_fields);
    if (!m.has_value()) {
      ++not_replayable;
      continue;
    }
    out.push_back({std::move(r.method), *std::move(m)});
  }
  std::lock_guard<std::mutex> lock(mu_);
  progress_.data["sample"] = {{"requests", out.size()},
                              {"bytes", p.bytes},
                              {"too_large", p.too_large},
                              {"not_replayable", not_replayable}};
  if (stop_) return {};
  if (out.empty()) {
    progress_.stage = LoadTestProgress::Stage::kFailed;
    progress_.detail =
        taken.empty()
            ? absl::StrCat("no request of route ", plan_.route, " came within ",
                           absl::FormatDuration(spec.timeout), " to sample (", p.too_large,
                           " over ", proxy::RequestSampler::kMaxRequestBytes, " bytes)")
            : absl::StrCat("none of the ", taken.size(),
                           " requests sampled can be replayed: ", "their messages are compressed");
  }
  return out;
}

void GrpcLoadTester::Run::Replay(const std::vector<Replayable>& sample) {
  const LoadTestSpec& spec = plan_.spec;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (const LoadTestPlan::Endpoint& e : plan_.endpoints) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(std::make_unique<grpc::GenericStub>(
        grpc::CreateCustomChannel(e.address, credentials::ChannelCredentials(e.tls, &args), args)));
  }
  const absl::Time start = absl::Now();
  const uint64_t total =
      static_cast<uint64_t>(spec.rate * absl::ToDoubleSeconds(spec.duration) + 0.5);
  const std::string what =
      absl::StrFormat("%d requests of route %s to %s at %g/s for %s", sample.size(), plan_.route,
                      plan_.candidate, spec.rate, absl::FormatDuration(spec.duration));
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.stage = LoadTestProgress::Stage::kReplaying;
    progress_.replay_started = start;
    progress_.detail = absl::StrCat("replaying ", what);
  }
  for (uint64_t i = 0; i < total; ++i) {
    if (!SleepUntil(start + absl::Seconds(static_cast<double>(i) / spec.rate))) break;
    const Replayable& r = sample[i % sample.size()];
    auto* call = new Call(this, &r.messages);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++sent_;
      if (in_flight_ >= kMaxInFlight) {
        ++not_sent_;  // the candidate does not keep up: a failed call
        Count(/*UNAVAILABLE*/ 14, absl::ToInt64Nanoseconds(kCallTimeout));
        delete call;
        continue;
      }
      calls_.insert(call->context());
      ++in_flight_;
    }
    call->Go(stubs[i % stubs.size()].get(), r.method);  // its end may come at once
  }
  // Every call ends within its deadline (sooner once stopped: they are cancelled), and
  // before the stubs and the sample go.
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  if (stop_) return;
  progress_.replay_ended = absl::Now();
  progress_.stage = LoadTestProgress::Stage::kDone;
  progress_.detail = absl::StrCat("replayed ", what);
}

GrpcLoadTester::~GrpcLoadTester() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, run] : runs_) run->Stop();
  for (auto& run : stopping_) run->Stop();
  runs_.clear();
  stopping_.clear();  // each Run joins its thread as it goes
}

void GrpcLoadTester::Begin(uint64_t key, const LoadTestPlan& plan) {
  auto run = std::make_shared<Run>(sampler_, plan);
  std::lock_guard<std::mutex> lock(mu_);
  ReapLocked();
  if (auto it = runs_.find(key); it != runs_.end()) {
    it->second->Stop();
    stopping_.push_back(std::move(it->second));
  }
  run->Start();
  runs_[key] = std::move(run);
}

std::optional<LoadTestProgress> GrpcLoadTester::Poll(uint64_t key) {
  std::shared_ptr<Run> run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(key);
    if (it == runs_.end()) return std::nullopt;
    run = it->second;
  }
  return run->Progress();
}

void GrpcLoadTester::Cancel(uint64_t key) {
  std::lock_guard<std::mutex> lock(mu_);
  ReapLocked();
  auto it = runs_.find(key);
  if (it == runs_.end()) return;
  it->second->Stop();
  stopping_.push_back(std::move(it->second));
  runs_.erase(it);
}

void GrpcLoadTester::ReapLocked() {
  std::vector<std::shared_ptr<Run>> left;
  for (auto& run : stopping_) {
    if (!run->finished()) left.push_back(std::move(run));  // the rest join as they go
  }
  stopping_ = std::move(left);
}

}  // namespace rollout::control
