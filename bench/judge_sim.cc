// judge_sim: how often the rollout engine's judgement is wrong, and how fast it is right.
//
// It runs the real RolloutEngine, Controller and analysis on a fake clock, thousands of
// times, against synthetic traffic: each analysis window of each pool is drawn from the
// pool's share of the route (read from the published table, as the proxy would route),
// a rate of calls, an error probability and lognormal latency distributions (calls, and
// the time to the first message for streams). The draws go through the proxy's own
// window buckets and Summarize, then ToPoolStats, so the analysis sees what it would see
// from the in-process source.
//
//   judge_sim --out bench/RESULTS-judge.md     # the whole table (a few minutes)
//   judge_sim --runs 50 --rates 100            # quick look
//
// Output: a Markdown report (RESULTS-judge.md) with the spec used, a row per scenario and
// rate, and the targets of issue 19 checked against the rows.
//
// Thread-safety: single-threaded.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/judge_sim_report.h"
#include "config/config_loader.h"
#include "metrics/call_series.h"
#include "rollout/metric_source.h"
#include "rollout/rollout_engine.h"

namespace rollout::control {
namespace {

using metrics::CallSeries;

constexpr char kConfig[] = R"(
listen: 127.0.0.1:0
pools:
  - { name: stable, endpoints: ["127.0.0.1:9001"] }
  - { name: candidate, endpoints: ["127.0.0.1:9002"] }
routes:
  - name: infer
    sticky_key: x-user
    split: [ { pool: stable, weight: 100 } ]
)";

// Draws each pool's window from its Arm and its share of the route now.
class SimSource final : public MetricSource {
 public:
  SimSource(const Controller* controller, const Scenario& scenario, double rate, uint64_t seed)
      : controller_(controller), scenario_(scenario), rate_(rate), rng_(seed) {}

  absl::StatusOr<PoolStats> Window(const std::string& /*route*/, const std::string& pool,
                                   absl::Duration window) override {
    const Arm& arm = pool == "candidate" ? scenario_.candidate : scenario_.stable;
    const double mean = rate_ * Share(pool) / 100 * absl::ToDoubleSeconds(window);
    const uint64_t calls = mean > 0 ? std::poisson_distribution<uint64_t>(mean)(rng_) : 0;
    return ToPoolStats(metrics::Summarize(Draw(arm, calls, window)));
  }
  std::string name() const override { return "judge_sim"; }

 private:
  double Share(const std::string& pool) const {
    auto table = controller_->store()->Current();
    const auto& split = table->routes()[0].split;
    for (size_t i = 0; i < split.size(); ++i) {
      if (table->pools()[split.pool(i)].name == pool) return split.PartsPerMillion(i) / 1e4;
    }
    return 0;
  }

  metrics::WindowCounts Draw(const Arm& arm, uint64_t calls, absl::Duration window) {
    metrics::WindowCounts w;
    w.window = window;
    w.buckets.assign(CallSeries::kWindowBuckets, 0);
    w.mirror_buckets.assign(CallSeries::kMirrorWindowBuckets, 0);
    w.first_buckets.assign(CallSeries::kStreamWindowBuckets, 0);
    w.gap_buckets.assign(CallSeries::kStreamWindowBuckets, 0);
    const uint64_t errors =
        calls == 0 ? 0 : std::binomial_distribution<uint64_t>(calls, arm.error_rate)(rng_);
    w.classes[static_cast<int>(metrics::CodeClass::kServerError)] = errors;
    w.classes[static_cast<int>(metrics::CodeClass::kOk)] = calls - errors;
    std::lognormal_distribution<double> latency(std::log(arm.latency_median), arm.latency_sigma);
    std::lognormal_distribution<double> first(std::log(std::max(arm.first_median, 1e-9)),
                                              arm.first_sigma);
    constexpr uint64_t kCap = (uint64_t{1} << 38) - 1;
    for (uint64_t i = 0; i < calls; ++i) {
      const uint64_t ns = std::min<uint64_t>(static_cast<uint64_t>(latency(rng_) * 1e9), kCap);
      ++w.buckets[CallSeries::WindowBuckets::Index(ns)];
      w.max_ns = std::max(w.max_ns, ns);
      if (arm.first_median <= 0) continue;
      const uint64_t f = std::min<uint64_t>(static_cast<uint64_t>(first(rng_) * 1e9), kCap);
      ++w.first_buckets[CallSeries::StreamWindowBuckets::Index(f)];
      w.first_max_ns = std::max(w.first_max_ns, f);
    }
    return w;
  }

  const Controller* const controller_;
  const Scenario& scenario_;
  const double rate_;
  std::mt19937_64 rng_;
};

// One rollout from its start to its end (or to max_intervals): what became of it.
RunResult RunOnce(const Scenario& scenario, const RolloutSpec& spec, double rate, uint64_t seed,
                  int max_intervals) {
  absl::StatusOr<Config> config = ParseConfig(kConfig, "judge_sim.yaml");
  if (!config.ok()) return {RunEnd::kError, 0, std::string(config.status().message())};
  auto controller = Controller::Create(*config);
  if (!controller.ok()) return {RunEnd::kError, 0, std::string(controller.status().message())};
  SimSource source(controller->get(), scenario, rate, seed);
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  RolloutEngine::Options options;
  options.source = &source;
  options.clock = [&now] { return now; };
  auto engine = RolloutEngine::Create(controller->get(), options);
  if (!engine.ok()) return {RunEnd::kError, 0, std::string(engine.status().message())};
  absl::StatusOr<Release> started = (*engine)->Start("judge_sim", spec, "simulation");
  if (!started.ok()) return {RunEnd::kError, 0, std::string(started.status().message())};
  for (int i = 1; i <= max_intervals; ++i) {
    now += spec.analysis.interval;
    (*engine)->Tick();
    absl::StatusOr<Release> r = (*engine)->Get("infer");
    if (!r.ok()) return {RunEnd::kError, i, std::string(r.status().message())};
    if (r->phase == Phase::kPromoted) return {RunEnd::kPromoted, i, r->outcome_reason};
    if (r->phase == Phase::kAborted) return {RunEnd::kAborted, i, r->outcome_reason};
    if (r->phase == Phase::kInconclusive) return {RunEnd::kInconclusive, i, ""};
    if (r->phase == Phase::kConcluded) return {RunEnd::kConcluded, i, ""};
  }
  return {RunEnd::kStillRunning, max_intervals, ""};
}

struct Flags {
  int runs = 1000;  // A/A runs per rate; the other scenarios get a fifth
  std::string rates = "1,10,100,1000";
  int max_intervals = 40;
  std::string out;  // "" prints to stdout
  uint64_t seed = 20261202;
};

int Main(int argc, char** argv) {
  CLI::App app{"judge_sim: the rollout engine's verdicts on synthetic traffic, thousands of times"};
  Flags f;
  app.add_option("--runs", f.runs, "A/A runs per rate (other scenarios: a fifth, at least 20)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--rates", f.rates, "the route's calls per second, comma-separated")
      ->capture_default_str();
  app.add_option("--max-intervals", f.max_intervals, "analysis intervals before a run is cut")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--seed", f.seed, "of the first run; each run adds one")->capture_default_str();
  app.add_option("--out", f.out, "write the Markdown report here (default: stdout)");
  CLI11_PARSE(app, argc, argv);
  std::vector<double> rates;
  for (absl::string_view part : absl::StrSplit(f.rates, ',', absl::SkipEmpty())) {
    double r = 0;
    if (!absl::SimpleAtod(part, &r) || r <= 0) {
      std::fprintf(stderr, "judge_sim: --rates: \"%s\" is not a rate above 0\n",
                   std::string(part).c_str());
      return 2;
    }
    rates.push_back(r);
  }
  Report report(f.runs, f.max_intervals, f.seed);
  uint64_t seed = f.seed;
  const std::vector<Scenario> scenarios = Scenarios();  // the rows point into it
  for (const Scenario& s : scenarios) {
    const int runs = s.aa ? f.runs : std::max(20, f.runs / 5);
    for (double rate : rates) {
      Row row{&s, rate};
      for (int i = 0; i < runs; ++i) row.Add(RunOnce(s, s.spec, rate, seed++, f.max_intervals));
      std::fprintf(stderr, "judge_sim: %-28s %7.0f calls/s: %s\n", s.name.c_str(), rate,
                   row.Brief().c_str());
      report.Add(std::move(row));
    }
  }
  const std::string text = report.Markdown();
  if (f.out.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    std::ofstream(f.out) << text;
  }
  return report.ErrorCount() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace rollout::control

int main(int argc, char** argv) { return rollout::control::Main(argc, argv); }
