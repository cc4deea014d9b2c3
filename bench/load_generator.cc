#include "bench/load_generator.h"

#include <grpcpp/alarm.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "metrics/log_linear_histogram.h"
#include "metrics/status_code_name.h"

namespace rollout::bench {
namespace {

// A KServe ModelInferRequest (field 1 model_name), padded to about `payload` bytes with
// field 7 (raw_input_contents), encoded by hand: the bench links no inference protos.
std::string ModelInferRequestBytes(const std::string& model, size_t payload) {
  auto varint = [](std::string* out, uint64_t v) {
    for (; v >= 0x80; v >>= 7) out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    out->push_back(static_cast<char>(v));
  };
  std::string out;
  out.push_back(0x0a);
  varint(&out, model.size());
  out += model;
  const size_t pad = payload > out.size() + 4 ? payload - out.size() - 4 : 0;
  out.push_back(0x3a);
  varint(&out, pad);
  out.append(pad, 'x');
  return out;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// What one thread measured.
struct Tally {
  metrics::LogLinearHistogram latency;
  metrics::LogLinearHistogram stream_latency;  // the mix's stream messages
  uint64_t streams = 0;
  std::map<int, uint64_t> codes;
  std::map<std::string, uint64_t> backends;
  uint64_t late = 0;
};

// A completion-queue event handler.
class Op {
 public:
  virtual ~Op() = default;
  virtual void Proceed(bool ok) = 0;
};

// One thread: its completion queue, its connections, and its share of the load.
class Runner {
 public:
  Runner(const LoadOptions& o, std::vector<std::shared_ptr<grpc::Channel>> channels,
         const grpc::ByteBuffer& request, int64_t measure_from, int64_t end, double rate)
      : o_(o),
        request_(request),
        measure_from_(measure_from),
        end_(end),
        rate_(rate),
        start_(NowNs()) {
    for (auto& ch : channels) stubs_.push_back(std::make_unique<grpc::GenericStub>(ch));
  }

  void Run();
  Tally& tally() { return tally_; }

  // Called by the ops of this thread.
  void StartUnary(int conn, int64_t due);
  // Open loop: the `index`-th scheduled call, a stream of the mix or a unary call.
  void StartScheduled(int conn, int64_t due, uint64_t index);
  // Counts a call that was due in the measured time and ended in it; false otherwise.
  bool Record(int64_t due, int64_t done, int code, bool mixed_stream = false) {
    if (due < measure_from_ || done > end_) return false;  // warm-up or past the end
    (mixed_stream ? tally_.stream_latency : tally_.latency)
        .Record(static_cast<uint64_t>(done - due));
    ++tally_.codes[code];
    return true;
  }
  bool Running(int64_t now) const { return now < end_; }
  void Ended() { --inflight_; }
  grpc::CompletionQueue* cq() { return &cq_; }
  const LoadOptions& options() const { return o_; }
  const grpc::ByteBuffer& request() const { return request_; }
  grpc::GenericStub* stub(int conn) { return stubs_[conn].get(); }
  int64_t measure_from() const { return measure_from_; }
  void Started() { ++inflight_; }

 private:
  class Due;
  // Open loop: the pacing thread's body.
  void Pace();
  const LoadOptions& o_;
  const grpc::ByteBuffer& request_;
  const int64_t measure_from_, end_;
  const double rate_;  // this thread's share; 0: closed loop
  const int64_t start_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  grpc::CompletionQueue cq_;
  std::atomic<int> inflight_{0};  // the pacer adds to it too
  Tally tally_;
};

class UnaryCall final : public Op {
 public:
  UnaryCall(Runner* r, int conn, int64_t due) : r_(r), conn_(conn), due_(due) {
    r->Started();
    ctx_.set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(r->options().timeout));
    reader_ = r->stub(conn)->PrepareUnaryCall(&ctx_, r->options().method, r->request(), r->cq());
    reader_->StartCall();
    reader_->Finish(&response_, &status_, this);
  }
  void Proceed(bool) override {
    const int64_t now = NowNs();
    if (r_->Record(due_, now, status_.error_code()) && status_.ok()) {
      auto it = ctx_.GetServerInitialMetadata().find("x-bench-backend");
      if (it != ctx_.GetServerInitialMetadata().end()) {
        ++r_->tally().backends[std::string(it->second.data(), it->second.size())];
      }
    }
    r_->Ended();
    // Closed loop: replace this call at once.
    if (r_->options().rate == 0 && r_->Running(now)) r_->StartUnary(conn_, now);
    delete this;
  }

 private:
  Runner* const r_;
  const int conn_;
  const int64_t due_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader_;
  grpc::ByteBuffer response_;
  grpc::Status status_;
};

// One bidi stream; each message's round trip is one measured "call". A stream of the mix
// (`messages` > 0) ends after that many, and its first round trip counts from `due`.
class StreamSlot final {
 public:
  StreamSlot(Runner* r, int conn, int64_t due = 0, int messages = 0)
      : r_(r), due_(due), messages_(messages) {
    r->Started();
    const LoadOptions& o = r->options();
    ctx_.set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(messages > 0 ? o.timeout * messages
                                                             : o.duration + o.warmup + o.timeout));
    call_ = r->stub(conn)->PrepareCall(&ctx_, messages > 0 ? o.stream_method : o.method, r->cq());
    call_->StartCall(&started_);
  }

 private:
  struct Step final : Op {
    StreamSlot* s;
    void (StreamSlot::*fn)(bool);
    Step(StreamSlot* slot, void (StreamSlot::*f)(bool)) : s(slot), fn(f) {}
    void Proceed(bool ok) override { (s->*fn)(ok); }
  };
  void OnStarted(bool ok) {
    if (!ok) return call_->Finish(&status_, &finished_);
    Send();
  }
  void Send() {
    sent_ = count_ == 0 && due_ > 0 ? due_ : NowNs();
    call_->Write(r_->request(), &written_);
  }
  void OnWritten(bool ok) {
    if (!ok) return call_->Finish(&status_, &finished_);
    call_->Read(&response_, &read_);
  }
  void OnRead(bool ok) {
    if (!ok) return call_->Finish(&status_, &finished_);
    const int64_t now = NowNs();
    r_->Record(sent_, now, 0, messages_ > 0);
    ++count_;
    if ((messages_ == 0 || count_ < messages_) && r_->Running(now)) return Send();
    call_->WritesDone(&closed_);
  }
  void OnClosed(bool) { call_->Finish(&status_, &finished_); }
  void OnFinished(bool) {
    const int64_t now = NowNs();
    if (!status_.ok()) r_->Record(sent_, now, status_.error_code(), messages_ > 0);
    if (messages_ > 0 && status_.ok() && count_ == messages_ && r_->Running(now)) {
      ++r_->tally().streams;
    }
    r_->Ended();
    delete this;
  }

  Runner* const r_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer response_;
  grpc::Status status_;
  const int64_t due_;
  const int messages_;  // 0: until the run ends
  int count_ = 0;
  int64_t sent_ = 0;
  Step started_{this, &StreamSlot::OnStarted}, written_{this, &StreamSlot::OnWritten},
      read_{this, &StreamSlot::OnRead}, closed_{this, &StreamSlot::OnClosed},
      finished_{this, &StreamSlot::OnFinished};
};

// Open loop: a pacing thread sleeps to each call's due time (clock_nanosleep, to the
// microsecond; gRPC's own timers wake to the millisecond, which would add about 0.6 ms to
// every call) and hands the call to the completion-queue thread with an alarm that is
// already due, which fires at once. The last one tells the runner that pacing is over.
class Runner::Due final : public Op {
 public:
  Due(Runner* r, int conn, int64_t due, uint64_t index, bool late, bool last)
      : r_(r), conn_(conn), due_(due), index_(index), late_(late), last_(last) {
    alarm_.Set(&r->cq_, gpr_inf_past(GPR_CLOCK_MONOTONIC), this);
  }
  void Proceed(bool) override {
    if (!last_) {
      if (late_ && due_ >= r_->measure_from_) ++r_->tally_.late;
      r_->StartScheduled(conn_, due_, index_);
    }
    r_->Ended();
    delete this;
  }

 private:
  Runner* const r_;
  const int conn_;
  const int64_t due_;
  const uint64_t index_;
  const bool late_, last_;
  grpc::Alarm alarm_;
};

void Runner::Pace() {
  const double interval_ns = 1e9 / rate_;
  for (uint64_t i = 0;; ++i) {
    const int64_t due = start_ + static_cast<int64_t>(i * interval_ns);
    if (due >= end_) break;
    const timespec at{static_cast<time_t>(due / 1'000'000'000),
                      static_cast<long>(due % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr) == EINTR) {
    }
    Started();
    new Due(this, static_cast<int>(i % stubs_.size()), due, i, NowNs() - due > 1'000'000, false);
  }
  new Due(this, 0, 0, 0, false, /*last=*/true);  // its Ended() is the pacer's Started()
}

void Runner::StartUnary(int conn, int64_t due) { new UnaryCall(this, conn, due); }

void Runner::StartScheduled(int conn, int64_t due, uint64_t index) {
  const double share = o_.stream_share;
  // Every 1/share-th call, spread evenly: call i is a stream when floor((i+1)s) > floor(i s).
  if (share > 0 &&
      static_cast<uint64_t>((index + 1) * share) > static_cast<uint64_t>(index * share)) {
    new StreamSlot(this, conn, due, o_.stream_messages);
  } else {
    StartUnary(conn, due);
  }
}

void Runner::Run() {
  std::thread pacer;
  if (rate_ > 0) {
    Started();  // the pacer's: ended by its last Due
    pacer = std::thread([this] { Pace(); });
  } else {
    for (int c = 0; c < static_cast<int>(stubs_.size()); ++c) {
      for (int s = 0; s < o_.streams; ++s) {
        if (o_.stream) {
          new StreamSlot(this, c);
        } else {
          StartUnary(c, NowNs());
        }
      }
    }
  }
  void* tag = nullptr;
  bool ok = false;
  while (inflight_.load() > 0 && cq_.Next(&tag, &ok)) static_cast<Op*>(tag)->Proceed(ok);
  if (pacer.joinable()) pacer.join();
  cq_.Shutdown();
  while (cq_.Next(&tag, &ok)) {
  }
}

}  // namespace

LoadReport RunLoad(const LoadOptions& o) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < o.connections; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection each
    args.SetInt("rollout.bench.connection", c);
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    channels.push_back(
        grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args));
  }
  for (auto& ch : channels) {
    ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  const std::string bytes =
      o.model.empty() ? std::string(o.payload, 'x') : ModelInferRequestBytes(o.model, o.payload);
  const grpc::Slice slice(bytes);
  const grpc::ByteBuffer request(&slice, 1);
  const int threads = std::max(1, std::min(o.threads, o.connections));
  const int64_t start = NowNs();
  const int64_t measure_from = start + absl::ToInt64Nanoseconds(o.warmup);
  const int64_t end = measure_from + absl::ToInt64Nanoseconds(o.duration);
  std::vector<std::unique_ptr<Runner>> runners;
  for (int t = 0; t < threads; ++t) {
    std::vector<std::shared_ptr<grpc::Channel>> mine;
    for (int c = t; c < o.connections; c += threads) mine.push_back(channels[c]);
    runners.push_back(
        std::make_unique<Runner>(o, std::move(mine), request, measure_from, end, o.rate / threads));
  }
  std::vector<std::thread> workers;
  for (auto& r : runners) workers.emplace_back([&r] { r->Run(); });
  for (auto& w : workers) w.join();

  LoadReport report;
  metrics::LogLinearHistogram all, streams;
  for (auto& r : runners) {
    all.Merge(r->tally().latency);
    streams.Merge(r->tally().stream_latency);
    report.streams += r->tally().streams;
    for (const auto& [code, n] : r->tally().codes) {
      report.codes[metrics::StatusCodeName(code)] += n;
    }
    for (const auto& [name, n] : r->tally().backends) report.backends[name] += n;
    report.late += r->tally().late;
  }
  report.seconds = absl::ToDoubleSeconds(o.duration);
  report.calls = all.count();
  report.rps = report.calls / report.seconds;
  report.p50 = all.Quantile(0.50) / 1e9;
  report.p90 = all.Quantile(0.90) / 1e9;
  report.p99 = all.Quantile(0.99) / 1e9;
  report.p999 = all.Quantile(0.999) / 1e9;
  report.max = all.max() / 1e9;
  report.mean = all.count() == 0 ? 0 : all.sum() / 1e9 / all.count();
  report.stream_calls = streams.count();
  report.stream_p50 = streams.Quantile(0.50) / 1e9;
  report.stream_p90 = streams.Quantile(0.90) / 1e9;
  report.stream_p99 = streams.Quantile(0.99) / 1e9;
  report.stream_p999 = streams.Quantile(0.999) / 1e9;
  report.stream_max = streams.max() / 1e9;
  return report;
}

std::string LoadReport::ToJson() const {
  std::string codes_json, backends_json;
  for (const auto& [k, v] : codes)
    absl::StrAppend(&codes_json, codes_json.empty() ? "" : ",", "\"", k, "\":", v);
  for (const auto& [k, v] : backends)
    absl::StrAppend(&backends_json, backends_json.empty() ? "" : ",", "\"", k, "\":", v);
  std::string out = absl::StrFormat(
      "{\"seconds\":%.3f,\"calls\":%d,\"rps\":%.1f,\"latency_seconds\":{\"mean\":%.9f,"
      "\"p50\":%.9f,\"p90\":%.9f,\"p99\":%.9f,\"p999\":%.9f,\"max\":%.9f},\"codes\":{%s},"
      "\"backends\":{%s},\"late\":%d}",
      seconds, calls, rps, mean, p50, p90, p99, p999, max, codes_json, backends_json, late);
  if (stream_calls == 0) return out;
  out.pop_back();  // the closing brace
  absl::StrAppend(
      &out,
      absl::StrFormat(
          ",\"streams\":{\"ended\":%d,\"messages\":%d,\"latency_seconds\":{\"p50\":%.9f,"
          "\"p90\":%.9f,\"p99\":%.9f,\"p999\":%.9f,\"max\":%.9f}}}",
          streams, stream_calls, stream_p50, stream_p90, stream_p99, stream_p999, stream_max));
  return out;
}

std::string LoadReport::ToText() const {
  std::string out = absl::StrFormat(
      "%d calls in %.1f s: %.0f rps\nlatency: mean %.1f us, p50 %.1f us, p90 %.1f us, p99 %.1f "
      "us, p99.9 %.1f us, max %.1f us\ncodes:",
      calls, seconds, rps, mean * 1e6, p50 * 1e6, p90 * 1e6, p99 * 1e6, p999 * 1e6, max * 1e6);
  for (const auto& [k, v] : codes) absl::StrAppend(&out, " ", k, "=", v);
  if (!backends.empty()) {
    absl::StrAppend(&out, "\nbackends:");
    for (const auto& [k, v] : backends) absl::StrAppend(&out, " ", k, "=", v);
  }
  if (late > 0) absl::StrAppend(&out, "\nlate sends (open loop, > 1 ms): ", late);
  if (stream_calls > 0) {
    absl::StrAppend(&out, absl::StrFormat("\nstreams: %d ended, %d messages: p50 %.1f us, p90 "
                                          "%.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us",
                                          streams, stream_calls, stream_p50 * 1e6, stream_p90 * 1e6,
                                          stream_p99 * 1e6, stream_p999 * 1e6, stream_max * 1e6));
  }
  return out + "\n";
}

}  // namespace rollout::bench
