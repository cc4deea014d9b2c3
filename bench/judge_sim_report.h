// judge_sim's scenarios (the traffic models and the rollout spec each is judged with), the
// tally of its runs, and the Markdown report with the targets of issue 19 checked.
//
// Thread-safety: plain values; a Report is filled by one thread.
#ifndef ROLLOUT_BENCH_JUDGE_SIM_REPORT_H_
#define ROLLOUT_BENCH_JUDGE_SIM_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "config/rollout_spec.h"

namespace rollout::control {

// One version's traffic: its server-error probability and lognormal latencies (median in
// seconds and sigma of the log) of the calls and, for streams, of the first message.
struct Arm {
  double error_rate = 0.005;
  double latency_median = 0.020, latency_sigma = 0.5;
  double first_median = 0, first_sigma = 0.3;  // first_median 0: unary calls, no messages
};

// What a scenario is, for the targets.
enum class Kind {
  kSame,
  kErrorsX2,
  kErrorsX5,
  kP99X15,
  kP99X3,
  kFirstMessageX2,
  kAbSame,
  kAbWorse
};

struct Scenario {
  std::string name;
  Kind kind;
  bool aa = false;  // the candidate is the stable version: any abort is a false one
  Arm stable, candidate;
  RolloutSpec spec;
  std::string spec_text;  // the spec, as rolloutctl flags, for the report
};

// Every scenario judge_sim runs.
std::vector<Scenario> Scenarios();

enum class RunEnd { kPromoted, kAborted, kInconclusive, kConcluded, kStillRunning, kError };

struct RunResult {
  RunEnd end;
  int intervals;  // analyses until the end
  std::string why;
};

// The runs of one scenario at one rate.
struct Row {
  const Scenario* scenario;
  double rate;  // the route's calls per second
  int runs = 0;
  int ends[6] = {};
  std::vector<int> abort_intervals;
  std::string first_error;

  void Add(const RunResult& r);
  double Share(RunEnd e) const { return runs == 0 ? 0 : double(ends[static_cast<int>(e)]) / runs; }
  // The share of runs aborted by (at most) `intervals` analyses.
  double AbortedWithin(int intervals) const;
  // The median of the aborted runs' analyses until their abort; "-" when none was.
  std::string MedianAbort() const;
  // The candidate's calls per second at its first step.
  double CandidateRate() const;
  std::string Brief() const;
};

class Report {
 public:
  Report(int runs, int max_intervals, uint64_t seed)
      : runs_(runs), max_intervals_(max_intervals), seed_(seed) {}
  void Add(Row row) { rows_.push_back(std::move(row)); }
  std::string Markdown() const;
  int ErrorCount() const;

 private:
  std::string Targets() const;

  int runs_, max_intervals_;
  uint64_t seed_;
  std::vector<Row> rows_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_BENCH_JUDGE_SIM_REPORT_H_
