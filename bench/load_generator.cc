#include "bench/load_generator.h"

#include <grpcpp/alarm.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <time.h>

#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "metrics/log_linear_histogram.h"
#include "metrics/status_code_name.h"

namespace rollout::bench {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// What one thread measured.
struct Tally {
  metrics::LogLinearHistogram latency;
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
  // Counts a call that was due in the measured time and ended in it; false otherwise.
  bool Record(int64_t due, int64_t done, int code) {
    if (due < measure_from_ || done > end_) return false;  // warm-up or past the end
    tally_.latency.Record(static_cast<uint64_t>(done - due));
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
  class Ticker;
  const LoadOptions& o_;
  const grpc::ByteBuffer& request_;
  const int64_t measure_from_, end_;
  const double rate_;  // this thread's share; 0: closed loop
  const int64_t start_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  grpc::CompletionQueue cq_;
  int inflight_ = 0;
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

// One bidi stream; each message's round trip is one measured "call".
class StreamSlot final {
 public:
  StreamSlot(Runner* r, int conn) : r_(r) {
    r->Started();
    ctx_.set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(r->options().duration + r->options().warmup +
                                                r->options().timeout));
    call_ = r->stub(conn)->PrepareCall(&ctx_, r->options().method, r->cq());
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
    sent_ = NowNs();
    call_->Write(r_->request(), &written_);
  }
  void OnWritten(bool ok) {
    if (!ok) return call_->Finish(&status_, &finished_);
    call_->Read(&response_, &read_);
  }
  void OnRead(bool ok) {
    if (!ok) return call_->Finish(&status_, &finished_);
    const int64_t now = NowNs();
    r_->Record(sent_, now, 0);
    if (r_->Running(now)) return Send();
    call_->WritesDone(&closed_);
  }
  void OnClosed(bool) { call_->Finish(&status_, &finished_); }
  void OnFinished(bool) {
    if (!status_.ok()) r_->Record(sent_, NowNs(), status_.error_code());
    r_->Ended();
    delete this;
  }

  Runner* const r_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer response_;
  grpc::Status status_;
  int64_t sent_ = 0;
  Step started_{this, &StreamSlot::OnStarted}, written_{this, &StreamSlot::OnWritten},
      read_{this, &StreamSlot::OnRead}, closed_{this, &StreamSlot::OnClosed},
      finished_{this, &StreamSlot::OnFinished};
};

// Open loop: wakes at each call's due time and sends every call that is due.
class Runner::Ticker final : public Op {
 public:
  explicit Ticker(Runner* r) : r_(r), interval_ns_(1e9 / r->rate_) {
    r->Started();
    Arm();
  }
  void Proceed(bool) override {
    const int64_t now = NowNs();
    while (true) {
      const int64_t due = r_->start_ + static_cast<int64_t>(sent_ * interval_ns_);
      if (due > now || due >= r_->end_) break;
      if (now - due > 1'000'000 && due >= r_->measure_from_) ++r_->tally_.late;
      r_->StartUnary(static_cast<int>(sent_ % r_->stubs_.size()), due);
      ++sent_;
    }
    if (r_->start_ + static_cast<int64_t>(sent_ * interval_ns_) >= r_->end_) {
      r_->Ended();
      delete this;
      return;
    }
    Arm();
  }

 private:
  void Arm() {
    const int64_t due = r_->start_ + static_cast<int64_t>(sent_ * interval_ns_);
    const auto wake = std::chrono::system_clock::now() +
                      std::chrono::nanoseconds(std::max<int64_t>(0, due - NowNs()));
    alarm_.Set(&r_->cq_, wake, this);
  }
  Runner* const r_;
  const double interval_ns_;
  uint64_t sent_ = 0;
  grpc::Alarm alarm_;
};

void Runner::StartUnary(int conn, int64_t due) { new UnaryCall(this, conn, due); }

void Runner::Run() {
  if (rate_ > 0) {
    new Ticker(this);
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
  while (inflight_ > 0 && cq_.Next(&tag, &ok)) static_cast<Op*>(tag)->Proceed(ok);
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
  const std::string bytes(o.payload, 'x');
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
  metrics::LogLinearHistogram all;
  for (auto& r : runners) {
    all.Merge(r->tally().latency);
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
  return report;
}

std::string LoadReport::ToJson() const {
  std::string codes_json, backends_json;
  for (const auto& [k, v] : codes)
    absl::StrAppend(&codes_json, codes_json.empty() ? "" : ",", "\"", k, "\":", v);
  for (const auto& [k, v] : backends)
    absl::StrAppend(&backends_json, backends_json.empty() ? "" : ",", "\"", k, "\":", v);
  return absl::StrFormat(
      "{\"seconds\":%.3f,\"calls\":%d,\"rps\":%.1f,\"latency_seconds\":{\"mean\":%.9f,"
      "\"p50\":%.9f,\"p90\":%.9f,\"p99\":%.9f,\"p999\":%.9f,\"max\":%.9f},\"codes\":{%s},"
      "\"backends\":{%s},\"late\":%d}",
      seconds, calls, rps, mean, p50, p90, p99, p999, max, codes_json, backends_json, late);
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
  return out + "\n";
}

}  // namespace rollout::bench
