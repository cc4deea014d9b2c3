// Per-call costs on the routing path: picking a pool, matching a route, reading the table.
//
//   ./build/bench/routing_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include "metrics/log_linear_histogram.h"
#include "routing/routing_table.h"
#include "routing/routing_table_store.h"
#include "routing/split_mix.h"

namespace rollout {
namespace {

uint64_t NextRandom(uint64_t& state) { return routing::SplitMix64Next(state); }

std::shared_ptr<const routing::RoutingTable> Table() {
  return *routing::RoutingTable::Create(
      {{"v1", {"127.0.0.1:9001"}}, {"v2", {"127.0.0.1:9002"}}},
      {{.name = "health", .method_prefix = "/grpc.health.v1.Health/", .split = {{"v1", 1}}},
       {.name = "infer",
        .method_prefix = "/inference.GRPCInferenceService/",
        .split = {{"v1", 90}, {"v2", 10}}}},
      1);
}

void BM_WeightedPick(benchmark::State& state) {
  auto table = Table();
  uint64_t rng = 1;
  for (auto _ : state) benchmark::DoNotOptimize(table->routes()[1].split.Pick(NextRandom(rng)));
}
BENCHMARK(BM_WeightedPick);

void BM_DecideThroughCache(benchmark::State& state) {
  routing::RoutingTableStore store(Table());
  routing::RoutingTableCache cache(&store);
  uint64_t rng = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        cache.Get().Decide("/inference.GRPCInferenceService/ModelInfer", NextRandom(rng)));
  }
}
BENCHMARK(BM_DecideThroughCache);

void BM_HistogramRecord(benchmark::State& state) {
  metrics::LogLinearHistogram h;
  uint64_t v = 1;
  for (auto _ : state) h.Record((v = v * 6364136223846793005ULL + 1) >> 40);
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_HistogramRecord);

}  // namespace
}  // namespace rollout

BENCHMARK_MAIN();
