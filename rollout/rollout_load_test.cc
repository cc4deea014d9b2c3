// The RolloutEngine's load-test gate: starting the test of a release, following it, and
// judging its figures (rollout/load_test.h).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proxy/model_fields.h"
#include "rollout/load_test.h"
#include "rollout/rollout_engine.h"

namespace rollout::control {
namespace {

// How often a running load test is looked at: its progress shows in the status, and its
// end is judged, within about this long.
constexpr absl::Duration kLoadTestPoll = absl::Seconds(1);

const char* StageName(LoadTestProgress::Stage s) {
  switch (s) {
    case LoadTestProgress::Stage::kCollecting:
      return "collecting";
    case LoadTestProgress::Stage::kReplaying:
      return "replaying";
    case LoadTestProgress::Stage::kDone:
      return "done";
    case LoadTestProgress::Stage::kFailed:
      return "failed";
  }
  return "";
}

}  // namespace

LoadTestPlan RolloutEngine::PlanLoadTest(const Release& r) const {
  LoadTestPlan plan;
  plan.release = r.id;
  plan.route = r.spec.route;
  plan.candidate = r.spec.CandidateName();
  plan.spec = *r.spec.load_test;
  for (const auto& pool : controller_->store()->Current()->pools()) {
    if (pool.name != r.spec.candidate) continue;
    for (const std::string& e : pool.endpoints) plan.endpoints.push_back({e, pool.tls});
    // As the data plane pins the pool's model (h2/model_rewriter.h).
    plan.model_fields = proxy::EncodeModelFields(pool.model_name, pool.model_version);
  }
  return plan;
}

Gate RolloutEngine::AskLoadTest(const Release& r, Gate g) {
  const absl::Time now = options_.clock();
  LoadTester* tester = options_.load_tester;
  if (tester == nullptr) {
    g.state = GateState::kFailed;
    g.detail = "this engine cannot run load tests (it has no load tester)";
    return g;
  }
  std::optional<LoadTestProgress> p = tester->Poll(r.id);
  if (!p.has_value()) {  // not begun yet, or lost with a restart: (re)start it
    tester->Begin(r.id, PlanLoadTest(r));
    p = LoadTestProgress();
    p->detail = absl::StrCat("collecting a sample of route ", r.spec.route, "'s requests");
  }
  g.data = p->data;
  g.data["stage"] = StageName(p->stage);
  if (p->stage == LoadTestProgress::Stage::kCollecting ||
      p->stage == LoadTestProgress::Stage::kReplaying) {
    g.detail = p->detail;
    if (p->stage == LoadTestProgress::Stage::kReplaying) {
      absl::StrAppendFormat(&g.detail, ": %d answered so far, %d server errors", p->stats.requests,
                            p->stats.server_errors);
      if (p->stats.p99_seconds.has_value()) {
        absl::StrAppend(&g.detail, ", p99 ", Ms(*p->stats.p99_seconds));
      }
    }
    g.ask_again = now + kLoadTestPoll;
    return g;
  }
  tester->Cancel(r.id);  // answered: its sample is dropped
  g.by = kEngineActor;
  g.time = now;
  if (p->stage == LoadTestProgress::Stage::kFailed) {
    g.state = GateState::kFailed;
    g.detail = absl::StrCat("load test not run: ", p->detail);
    return g;
  }
  // The stable pool's live traffic over the same time, for the relative thresholds.
  const absl::Duration took =
      std::max(p->replay_ended - p->replay_started, absl::Seconds(1)) + (now - p->replay_ended);
  absl::StatusOr<PoolStats> stable = options_.source->Window(r.spec.route, r.spec.stable, took);
  const Verdict v = JudgeLoadTest(r.spec.analysis, p->stats, stable.ok() ? *stable : PoolStats());
  g.state = v.outcome == Outcome::kPass ? GateState::kPassed : GateState::kFailed;
  g.detail = absl::StrCat(p->detail, ": ", v.summary);
  g.data["verdict"] = v.ToJson();
  return g;
}

}  // namespace rollout::control
