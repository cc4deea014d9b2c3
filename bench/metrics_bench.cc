// What recording one call's metrics costs, prometheus-cpp's own types against our per-worker
// cells, with one thread and with two threads recording into the same (route, pool).
//
//   ./build/bench/metrics_bench --benchmark_min_time=0.5
//
// Per call the proxy records: in flight +1 at the start; then the code's counter, the
// latency histogram and in flight -1 at the end. The prometheus-cpp variants do the same with
// Gauge, Counter and Histogram (whose Observe takes a mutex); ours writes the worker's Cell.
#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "metrics/call_series.h"

namespace rollout::metrics {
namespace {

struct PrometheusCppSeries {
  PrometheusCppSeries()
      : counter(prometheus::BuildCounter().Name("c").Register(registry).Add({{"code", "OK"}})),
        inflight(prometheus::BuildGauge().Name("g").Register(registry).Add({})),
        histogram(prometheus::BuildHistogram().Name("h").Register(registry).Add(
            {}, prometheus::Histogram::BucketBoundaries(kLatencyBucketsSeconds.begin(),
                                                        kLatencyBucketsSeconds.end()))) {}
  prometheus::Registry registry;
  prometheus::Counter& counter;
  prometheus::Gauge& inflight;
  prometheus::Histogram& histogram;
};

PrometheusCppSeries& SharedPrometheusCpp() {
  static auto* series = new PrometheusCppSeries();
  return *series;
}

CallSeries& SharedCallSeries() {
  static auto* series = new CallSeries("route", "pool", 2);
  return *series;
}

void BM_PrometheusCppCounterIncrement(benchmark::State& state) {
  prometheus::Counter& counter = SharedPrometheusCpp().counter;
  for (auto _ : state) counter.Increment();
}
BENCHMARK(BM_PrometheusCppCounterIncrement)->Threads(1)->Threads(2);

void BM_PrometheusCppHistogramObserve(benchmark::State& state) {
  prometheus::Histogram& histogram = SharedPrometheusCpp().histogram;
  double v = 0.0003;
  for (auto _ : state) histogram.Observe(v += 1e-9);
}
BENCHMARK(BM_PrometheusCppHistogramObserve)->Threads(1)->Threads(2);

void BM_PrometheusCppPerCall(benchmark::State& state) {
  PrometheusCppSeries& s = SharedPrometheusCpp();
  double v = 0.0003;
  for (auto _ : state) {
    s.inflight.Increment();
    s.counter.Increment();
    s.histogram.Observe(v += 1e-9);
    s.inflight.Decrement();
  }
}
BENCHMARK(BM_PrometheusCppPerCall)->Threads(1)->Threads(2);

void BM_CallSeriesPerCall(benchmark::State& state) {
  CallSeries::Cell* cell = SharedCallSeries().cell(state.thread_index());
  const int64_t now = MonotonicNowNs();
  uint64_t latency = 300'000;
  for (auto _ : state) {
    cell->OnStart();
    cell->OnEnd(0, ++latency, now);
  }
}
BENCHMARK(BM_CallSeriesPerCall)->Threads(1)->Threads(2);

// The same, plus the two clock reads the proxy makes per call (start and end).
void BM_CallSeriesPerCallWithClock(benchmark::State& state) {
  CallSeries::Cell* cell = SharedCallSeries().cell(state.thread_index());
  for (auto _ : state) {
    const int64_t start = MonotonicNowNs();
    cell->OnStart();
    const int64_t end = MonotonicNowNs();
    cell->OnEnd(0, static_cast<uint64_t>(end - start), end);
  }
}
BENCHMARK(BM_CallSeriesPerCallWithClock)->Threads(1)->Threads(2);

}  // namespace
}  // namespace rollout::metrics

BENCHMARK_MAIN();
