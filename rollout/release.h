// Release: the record of one rollout, from start to outcome.
//
// It is both the rollout's live state (phase, step, when the next analysis runs, how many
// analyses failed in a row) and its history (who started it and why, every decision with
// the measured values and thresholds, and how it ended). Records are persisted with the
// routing state and survive restarts; `rolloutctl history` lists them.
//
// Thread-safety: plain values.
#ifndef ROLLOUT_ROLLOUT_RELEASE_H_
#define ROLLOUT_ROLLOUT_RELEASE_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/enum_names.h"
#include "config/rollout_spec.h"
#include "rollout/analysis.h"

namespace rollout::control {

// Before step 1 (the candidate gets no traffic yet): Scheduled until the spec's start_at;
// Gating while the pre-release gates run (compatibility, ...); WaitingForWindow outside
// the release window (also later, when a passed step waits for the window to open).
// Progressing: steps and analyses run. Paused: nothing moves until resumed. Inconclusive:
// inconclusive_limit analyses in a row could not decide; nothing moves until a person
// resumes, promotes or aborts it.
// RollbackWindow: blue_green switched; abort flips back at once. Concluded: an ab_test
// reached its verdict and waits for promote or abort. Promoted and Aborted are final.
enum class Phase {
  kProgressing,
  kPaused,
  kRollbackWindow,
  kConcluded,
  kPromoted,
  kAborted,
  kGating,
  kScheduled,
  kWaitingForWindow,
  kInconclusive
};
inline constexpr EnumName<Phase> kPhaseNames[] = {
    {Phase::kScheduled, "scheduled"}, {Phase::kWaitingForWindow, "waiting_for_window"},
    {Phase::kGating, "gating"},       {Phase::kProgressing, "progressing"},
    {Phase::kPaused, "paused"},       {Phase::kRollbackWindow, "rollback_window"},
    {Phase::kConcluded, "concluded"}, {Phase::kPromoted, "promoted"},
    {Phase::kAborted, "aborted"},     {Phase::kInconclusive, "inconclusive"}};
inline const char* PhaseName(Phase p) { return NameOf(kPhaseNames, p); }

// What a decision on a rollout was: the start, one analysis' result (hold, pass, fail), a
// move (step, switch, verdict), a person's verb (pause, resume), the end (promote, abort),
// or a restart taking the rollout over (restore).
enum class DecisionKind {
  kStart,
  kHold,
  kPass,
  kFail,
  kStep,
  kSwitch,
  kVerdict,
  kPromote,
  kAbort,
  kPause,
  kResume,
  kRestore,
  kGate,
  kInconclusive,
};
inline constexpr EnumName<DecisionKind> kDecisionKindNames[] = {
    {DecisionKind::kStart, "start"},     {DecisionKind::kHold, "hold"},
    {DecisionKind::kPass, "pass"},       {DecisionKind::kFail, "fail"},
    {DecisionKind::kStep, "step"},       {DecisionKind::kSwitch, "switch"},
    {DecisionKind::kVerdict, "verdict"}, {DecisionKind::kPromote, "promote"},
    {DecisionKind::kAbort, "abort"},     {DecisionKind::kPause, "pause"},
    {DecisionKind::kResume, "resume"},   {DecisionKind::kRestore, "restore"},
    {DecisionKind::kGate, "gate"},       {DecisionKind::kInconclusive, "inconclusive"}};
inline const char* DecisionKindName(DecisionKind k) { return NameOf(kDecisionKindNames, k); }
// A phase change, worth a notification (not an analysis that changed nothing).
inline bool IsPhaseChange(DecisionKind k) {
  return k != DecisionKind::kHold && k != DecisionKind::kPass && k != DecisionKind::kFail;
}

struct Decision {
  absl::Time time;
  int step = 0;  // 1-based step the rollout was at
  DecisionKind kind = DecisionKind::kHold;
  std::string actor;
  std::string detail;   // one line for people
  nlohmann::json data;  // measured values and thresholds

  nlohmann::json ToJson() const;
  static absl::StatusOr<Decision> FromJson(const nlohmann::json& j);
};

// A pre-release gate's answer: pending until it passes or fails (or is skipped, saying why).
enum class GateState { kPending, kPassed, kFailed, kSkipped };
inline constexpr EnumName<GateState> kGateStateNames[] = {{GateState::kPending, "pending"},
                                                          {GateState::kPassed, "passed"},
                                                          {GateState::kFailed, "failed"},
                                                          {GateState::kSkipped, "skipped"}};
inline const char* GateStateName(GateState s) { return NameOf(kGateStateNames, s); }

struct Gate {
  std::string name;  // compatibility, load_test, approval
  GateState state = GateState::kPending;
  std::string detail;   // one line for people
  nlohmann::json data;  // what was asked and answered
  std::string by;       // who answered: the engine, a webhook, a person
  absl::Time time = absl::InfinitePast();
  absl::Time since = absl::InfinitePast();  // when it was first asked (approval's timeout)
  // A pending gate that runs on its own (the load test): when to look at it next, sooner
  // than the analysis interval. Not kept in the record.
  absl::Time ask_again = absl::InfinitePast();

  nlohmann::json ToJson() const;
  static absl::StatusOr<Gate> FromJson(const nlohmann::json& j);
};

struct Release {
  uint64_t id = 0;
  RolloutSpec spec;
  std::string started_by;
  std::string source;  // "api" or "config"
  std::string reason;
  absl::Time started = absl::InfinitePast();
  absl::Time ended = absl::InfinitePast();  // InfinitePast while active
  Phase phase = Phase::kProgressing;
  Phase paused_from = Phase::kProgressing;
  int step = 0;  // canary: index into spec.steps; blue_green: 0 preview, 1 switched
  absl::Time next_analysis = absl::InfinitePast();
  absl::Time deadline = absl::InfiniteFuture();  // rollback window end; ab_test end
  int consecutive_failures = 0;
  int consecutive_holds = 0;  // analyses in a row that could not decide
  std::string outcome_reason;
  uint64_t follows = 0;      // the shadow rollout whose promotion started this one
  uint64_t rollback_to = 0;  // a rollback: the release whose end it restores
  // The windows judged at step tally_step so far, added up: analysis judges these, and
  // they start again at each step (ab_test: the whole test's).
  int tally_step = 0;
  PoolStats tally_stable, tally_candidate;
  std::vector<Gate> gates;  // in the order they run, before step 1
  std::vector<Decision> decisions;

  // Whether step 1 has been put in force; before, the candidate gets no traffic.
  bool begun = true;
  // Active and not begun: scheduled, at its gates, or waiting for its window.
  bool gated() const { return active() && !begun; }
  // The first gate still to pass (nullptr when none is pending).
  const Gate* pending_gate() const {
    for (const Gate& g : gates) {
      if (g.state == GateState::kPending) return &g;
    }
    return nullptr;
  }
  bool active() const { return phase != Phase::kPromoted && phase != Phase::kAborted; }
  // "in_progress", "promoted", "aborted".
  std::string Outcome() const;
  // The candidate's share now, in percent.
  double CandidatePercent() const;
  int TotalSteps() const;

  nlohmann::json ToJson() const;
  static absl::StatusOr<Release> FromJson(const nlohmann::json& j);
};

std::string Rfc3339(absl::Time t);  // RFC 3339 UTC; "" for InfinitePast

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_RELEASE_H_
