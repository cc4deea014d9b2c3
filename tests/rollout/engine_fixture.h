// The rollout engine on a fake clock and a fake metric source: every decision path, with
// no sleeps. The controller underneath is real (files in a temp dir), so weights, state
// and audit lines are the ones a proxy would publish.
#ifndef ROLLOUT_TESTS_ROLLOUT_ENGINE_FIXTURE_H_
#define ROLLOUT_TESTS_ROLLOUT_ENGINE_FIXTURE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "gtest/gtest.h"
#include "rollout/rollout_engine.h"
#include "tests/rollout/pool_stats.h"
#include "tests/support/child_process.h"

namespace rollout::control {

// One route, "infer", sticky on x-user, all on v1.
inline constexpr char kConfig[] = R"(
listen: 127.0.0.1:0
state_dir: state
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001"] }
  - { name: v2, endpoints: ["127.0.0.1:9002"] }
routes:
  - name: infer
    sticky_key: x-user
    split: [ { pool: v1, weight: 100 } ]
)";

// Answers from a table set by the test; a missing entry is "no data".
class FakeSource final : public MetricSource {
 public:
  absl::StatusOr<PoolStats> Window(const std::string& route, const std::string& pool,
                                   absl::Duration) override {
    ++queries;
    auto it = stats.find(pool);
    if (it == stats.end()) return absl::UnavailableError("fake: no data for " + pool);
    return it->second;
  }
  std::string name() const override { return "fake"; }

  std::map<std::string, PoolStats> stats;
  int queries = 0;
};

class RecordingNotifier final : public Notifier {
 public:
  void Notify(const nlohmann::json& event) override { events.push_back(event); }
  std::vector<nlohmann::json> events;
};

class RolloutEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }

  // A fresh controller and engine over the same state_dir (a restart).
  void Restart() {
    engine_.reset();
    path_ = dir_.WriteFile("proxy.yaml", kConfig);
    absl::StatusOr<Config> config = LoadConfigFile(path_);
    ASSERT_TRUE(config.ok()) << config.status();
    auto controller = Controller::Create(*config);
    ASSERT_TRUE(controller.ok()) << controller.status();
    controller_ = *std::move(controller);
    RolloutEngine::Options options;
    options.source = &source_;
    options.notifier = &notifier_;
    options.clock = [this] { return now_; };
    auto engine = RolloutEngine::Create(controller_.get(), options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
  }

  RolloutSpec Canary() {
    RolloutSpec spec;
    spec.route = "infer";
    spec.strategy = Strategy::kCanary;
    spec.stable = "v1";
    spec.candidate = "v2";
    spec.steps = {5, 25, 50};
    spec.analysis.interval = absl::Seconds(10);
    spec.analysis.min_requests = 100;
    spec.analysis.max_error_rate = 0.01;
    spec.analysis.max_p99_ratio = 1.5;
    spec.analysis.failure_limit = 2;
    return spec;
  }

  // Advances the fake clock by one interval and runs the engine.
  void Interval(absl::Duration d = absl::Seconds(10)) {
    now_ += d;
    engine_->Tick();
  }

  // The candidate's share (percent) in the published table.
  double Share(const std::string& pool) {
    auto table = controller_->store()->Current();
    const auto& split = table->routes()[0].split;
    for (size_t i = 0; i < split.size(); ++i) {
      if (table->pools()[split.pool(i)].name == pool) return split.PartsPerMillion(i) / 1e4;
    }
    return 0;
  }

  std::string LastKind() { return DecisionKindName(engine_->Get("infer")->decisions.back().kind); }

  testing::TempDir dir_;
  std::string path_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  FakeSource source_;
  RecordingNotifier notifier_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<RolloutEngine> engine_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_TESTS_ROLLOUT_ENGINE_FIXTURE_H_
