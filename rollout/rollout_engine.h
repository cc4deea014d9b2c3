// RolloutEngine: runs rollouts (canary, blue_green, ab_test, shadow) on the routes of a
// Controller, and promotes or aborts them on the metrics.
//
// Every interval it reads the candidate's and the stable pool's window from a MetricSource
// and judges them (analysis.h): a hold changes nothing, a pass moves to the next step, and
// `failure_limit` failures in a row abort (100% stable at once). Each decision is recorded
// in the release record with the measured values, goes to the audit log, to Watch
// subscribers and to the notifier, and is committed through Controller::CommitRollout
// together with the weights it sets, so a kill -9 at any point leaves the rollout at a
// step that it really reached, and a restart goes on from there.
//
// The engine owns a route while a rollout runs on it: SetWeights on it is refused.
//
//   auto engine = RolloutEngine::Create(controller, {.source = &in_process});
//   (*engine)->Start("alice", spec, "release v2");
//   ... (*engine)->Tick();  // from a timer thread, or by hand with a fake clock in tests
//
// Thread-safety: thread-safe. Tick() queries the metric source without holding the lock.
#ifndef ROLLOUT_ROLLOUT_ROLLOUT_ENGINE_H_
#define ROLLOUT_ROLLOUT_ROLLOUT_ENGINE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "control/controller.h"
#include "rollout/compatibility.h"
#include "rollout/load_test.h"
#include "rollout/metric_source.h"
#include "rollout/release.h"
#include "rollout/strategy.h"

namespace rollout::control {

// Receives a JSON document on every phase change (webhooks, see webhook_notifier.h).
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void Notify(const nlohmann::json& event) = 0;  // must not block
};

// Puts the pools behind the versions `spec` names (or the versions behind its pools) in
// it; a deactivated version is refused, naming the side.
absl::Status NameVersions(const Controller& controller, RolloutSpec* spec);

// The actor of the engine's own decisions.
inline constexpr char kEngineActor[] = "rollout-engine";

class RolloutEngine final {
 public:
  struct Options {
    MetricSource* source = nullptr;  // required
    Notifier* notifier = nullptr;    // optional
    // Asks the backends for their models' schemas (the compatibility gate); without one the
    // gate is recorded as skipped.
    ModelProbe* probe = nullptr;
    // Runs the load-test gate's tests; without one a rollout asking for a load test fails
    // that gate.
    LoadTester* load_tester = nullptr;
    absl::Duration probe_timeout = absl::Seconds(5);
    std::function<absl::Time()> clock = [] { return absl::Now(); };
    size_t max_finished_records = 200;  // older finished releases are dropped
  };

  // Restores the records the controller loaded from state_dir.
  static absl::StatusOr<std::unique_ptr<RolloutEngine>> Create(Controller* controller,
                                                               Options options);

  // The manual verbs. FAILED_PRECONDITION names what is in the way (a rollout already
  // running, or none to act on). Start first runs the compatibility gate: a candidate that
  // is not compatible is refused (FAILED_PRECONDITION naming the tensor, and recorded as an
  // aborted release); one that is not ready yet starts in phase gating, with no traffic,
  // until it is.
  absl::StatusOr<Release> Start(const std::string& actor, RolloutSpec spec,
                                const std::string& reason, const std::string& source = "api");
  absl::StatusOr<Release> Pause(const std::string& actor, const std::string& route,
                                const std::string& reason);
  absl::StatusOr<Release> Resume(const std::string& actor, const std::string& route,
                                 const std::string& reason);
  absl::StatusOr<Release> Promote(const std::string& actor, const std::string& route,
                                  const std::string& reason) {
    return EndByHand(DecisionKind::kPromote, actor, route, reason);
  }
  absl::StatusOr<Release> Abort(const std::string& actor, const std::string& route,
                                const std::string& reason) {
    return EndByHand(DecisionKind::kAbort, actor, route, reason);
  }
  // Signs off the active rollout's pending approval gate as `actor` (FAILED_PRECONDITION
  // when it has none waiting); the rollout goes on as its other gates and plan allow.
  absl::StatusOr<Release> Approve(const std::string& actor, const std::string& route,
                                  const std::string& reason);
  // Returns `route` in one step to what an earlier release left serving: release
  // `to_release`, else the version (or pool) `to_version`. Refused (FAILED_PRECONDITION)
  // while a rollout runs on the route, or when the target is deactivated, serves already,
  // is not ready, or is not compatible with what serves now (the compatibility gate).
  // Recorded as a release of strategy rollback, promoted when made (rollout_rollback.cc).
  absl::StatusOr<Release> Rollback(const std::string& actor, const std::string& route,
                                   uint64_t to_release, const std::string& to_version,
                                   const std::string& reason);

  // The route's active rollout, else its latest one. NOT_FOUND if it never had one.
  absl::StatusOr<Release> Get(const std::string& route) const;
  absl::StatusOr<Release> GetById(uint64_t id) const;
  // Every record, oldest first; `route` empty for all routes.
  std::vector<Release> History(const std::string& route) const;

  // Starts the config file's declared rollouts that have not run yet (same spec, same
  // route). Returns one note per rollout started or refused.
  std::vector<std::string> StartDeclared(const std::vector<RolloutSpec>& declared);

  // Runs every analysis that is due (only on the replica that leads the engine). Called
  // about once a second.
  void Tick();

  // Replicas sharing an etcd store. One that does not lead re-reads the records others
  // committed (Refresh) as they arrive; one elected to lead takes the rollouts over from
  // where they are (TakeOver), as after a restart.
  void Refresh();
  absl::Status TakeOver();

  struct Event {
    uint64_t seq = 0;
    Release release;  // as it was right after the decision
    Decision decision;
  };
  // Events after `after_seq` for `route` (empty: all routes); waits until there is one or
  // `deadline` passes.
  std::vector<Event> WaitEvents(uint64_t after_seq, const std::string& route,
                                absl::Time deadline) const;
  uint64_t LastEventSeq() const;

  // For rollout_proxy_rollout_step and rollout_proxy_rollout_phase: the latest release of
  // each route.
  struct RouteGauge {
    std::string route;
    int step;  // 1-based
    Phase phase;
  };
  std::vector<RouteGauge> Gauges() const;

 private:
  RolloutEngine(Controller* controller, Options options)
      : controller_(controller), options_(std::move(options)) {}

  void LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `gates`: the pre-release gates' answers so far (a pending one starts the rollout in
  // phase gating, a failed one records it aborted and refuses the start). `plan`, when set,
  // goes in the start decision (an A/B test's sample-size estimate).
  absl::StatusOr<Release> StartLocked(const std::string& actor, RolloutSpec spec,
                                      const std::string& reason, const std::string& source,
                                      uint64_t follows, std::vector<Gate> gates,
                                      const std::string& plan = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The spec of a rollback of `route` (names resolved): from what serves now to `to_release`'s
  // end, or to `to_version`. FAILED_PRECONDITION names what stands in the way.
  absl::StatusOr<RolloutSpec> RollbackSpec(const std::string& route, uint64_t to_release,
                                           const std::string& to_version) const;
  // Records `r` as refused at `gate` (aborted, with the gate's answer) and returns the
  // refusal; `head` starts its decision's detail.
  absl::Status RefuseLocked(Release r, const Gate& gate, const std::string& actor,
                            const std::string& head) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The gates of a rollout on `spec`, in the order they are asked (compatibility, load_test,
  // approval), none asked yet.
  std::vector<Gate> PendingGates(const RolloutSpec& spec) const;
  // The gates of a new rollout on `spec` (names resolved, defaults filled in), the
  // compatibility gate asked now. Makes network calls: call without the lock.
  absl::StatusOr<std::vector<Gate>> RunGates(const RolloutSpec& spec);
  // Starts the load test of `r`, or follows it, or judges it once done (rollout_load_test.cc).
  // Without the lock.
  Gate AskLoadTest(const Release& r, Gate before);
  LoadTestPlan PlanLoadTest(const Release& r) const;
  // The next gate of a gating release, run again (without the lock).
  Gate RerunGate(const Release& r);
  // Asks the approval webhook (or says it waits for a sign-off by hand), or fails `before`
  // once its timeout has passed since it was first asked. Without the lock.
  Gate AskApproval(const RolloutSpec& spec, Gate before, uint64_t id, const std::string& actor,
                   const std::string& reason);
  // Records a gate's new answer on a release that has not begun: a failure aborts; else it
  // goes on as Prestart says (`gate` with no name: nothing was asked).
  absl::Status GateLocked(Release next, Gate gate, const std::string& actor = kEngineActor)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A gate that runs on its own (the load test) goes on in the same stage: its progress
  // replaces the current record's in memory only, and it is looked at again at its
  // ask_again, without a new decision (one per analysis interval at most). False when
  // there is something to record.
  bool QuietLocked(const Release& next, const Gate& gate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Where a release that has not begun stands now: scheduled (before its start_at), at its
  // gates (one pending), waiting for its window, or begun at step 1 (phase progressing).
  // Sets its phase and when to look again; returns what to say of it.
  std::string Prestart(Release* r, absl::Time now) const;
  // The gates the engine answered go back to pending, to be asked again (at the start time
  // of a scheduled rollout).
  static void AskGatesAgain(Release* r);
  // The active release of `route`, or FAILED_PRECONDITION.
  absl::StatusOr<Release*> ActiveLocked(const std::string& route)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records `decision` on `next` (a changed copy of the release with id next.id), commits
  // it with `change` through the controller and only then makes it current.
  absl::Status CommitLocked(Release next, Decision decision, std::optional<RouteOverride> change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs one due analysis of `release` with the windows read outside the lock.
  void AnalyseLocked(Release next, const absl::StatusOr<PoolStats>& candidate,
                     const absl::StatusOr<PoolStats>& stable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A passed analysis whose move (`m`, computed on `passed`) waits for the release window:
  // `next` holds where it is, in phase waiting_for_window (said once per closed window).
  void HoldForWindowLocked(Release next, const Release& passed, const Move& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The end of a rollout (`end` kPromote or kAbort), with its decision and route change;
  // a promotion also starts the strategy's follow-up rollout (shadow: a canary).
  absl::Status EndLocked(Release next, DecisionKind end, const std::string& actor,
                         const std::string& detail, nlohmann::json data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Promote or Abort, asked for by `actor`.
  absl::StatusOr<Release> EndByHand(DecisionKind end, const std::string& actor,
                                    const std::string& route, const std::string& reason);

  Controller* const controller_;
  const Options options_;
  mutable std::mutex mu_;
  mutable std::condition_variable events_cv_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Release> releases_ ABSL_GUARDED_BY(mu_);  // by id
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  uint64_t event_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_ROLLOUT_ENGINE_H_
