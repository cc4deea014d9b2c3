// The load-test gate: the performance test of a candidate before release (LoadTestSpec in
// config/rollout_spec.h).
//
// A LoadTester runs one test per release, in the background: it copies a sample of the
// route's real requests as they arrive (stage collecting), replays it to the candidate's
// endpoints only at the spec's rate for its duration (replaying), and reports the answers'
// counts and latencies (done), or why it could not run (failed). The engine polls it from
// its tick and judges the figures with the rollout's thresholds (JudgeLoadTest).
//
//   tester->Begin(release_id, plan);
//   std::optional<LoadTestProgress> p = tester->Poll(release_id);  // each tick
//   tester->Cancel(release_id);  // when the gate is answered, or the release ends
//
// Thread-safety: LoadTester implementations are thread-safe; JudgeLoadTest is pure.
#ifndef ROLLOUT_ROLLOUT_LOAD_TEST_H_
#define ROLLOUT_ROLLOUT_LOAD_TEST_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "config/rollout_spec.h"
#include "rollout/analysis.h"
#include "routing/tls_spec.h"

namespace rollout::control {

inline constexpr char kLoadTestGate[] = "load_test";

struct LoadTestPlan {
  uint64_t release = 0;
  std::string route;
  std::string candidate;  // its name (the version's, else the pool's), for the texts
  struct Endpoint {
    std::string address;  // host:port
    routing::UpstreamTlsSpec tls;
  };
  std::vector<Endpoint> endpoints;  // the candidate pool's, taken in turn
  // The candidate pool's model pin (proxy/model_fields.h), appended to each replayed
  // message of the calls that name a model; "" for none.
  std::string model_fields;
  LoadTestSpec spec;
};

struct LoadTestProgress {
  enum class Stage { kCollecting, kReplaying, kDone, kFailed };
  Stage stage = Stage::kCollecting;
  std::string detail;  // for people: what it does, and how far it got
  // The replayed calls' answers (so far, while replaying): requests, server errors and
  // latencies, counted as the proxy counts its own calls (client-side codes excluded).
  PoolStats stats;
  absl::Time replay_started = absl::InfinitePast();
  absl::Time replay_ended = absl::InfinitePast();
  nlohmann::json data;  // the sample's and the replay's figures
};

class LoadTester {
 public:
  virtual ~LoadTester() = default;
  // Starts the test of release `key` (replacing one it had). Returns at once.
  virtual void Begin(uint64_t key, const LoadTestPlan& plan) = 0;
  // How it goes; nullopt when no test of `key` is known (never begun, cancelled, or lost
  // with a restart).
  virtual std::optional<LoadTestProgress> Poll(uint64_t key) = 0;
  // Stops the test of `key` and forgets it (and its sample). Returns at once.
  virtual void Cancel(uint64_t key) = 0;
};

// The verdict on a finished load test: the candidate's replayed calls against the rollout's
// thresholds (absolute ones, and relative ones against `stable`, the stable pool's live
// traffic over the same time).
Verdict JudgeLoadTest(const AnalysisSpec& spec, const PoolStats& replayed, const PoolStats& stable);

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_LOAD_TEST_H_
