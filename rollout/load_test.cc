#include "rollout/load_test.h"

namespace rollout::control {

Verdict JudgeLoadTest(const AnalysisSpec& spec, const PoolStats& replayed,
                      const PoolStats& stable) {
  Verdict v = Judge(spec, replayed, stable);
  if (v.outcome == Outcome::kHold) {
    // There is no later window to wait for: a test that cannot conclude does not pass.
    v.outcome = Outcome::kFail;
    v.summary = "the load test could not judge the candidate: " + v.summary;
  }
  v.windows = {{"candidate", replayed.ToJson()}, {"stable", stable.ToJson()}};
  return v;
}

}  // namespace rollout::control
