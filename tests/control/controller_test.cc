// The Controller with real files: config, state_dir, audit log.
#include "control/controller.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_replace.h"
#include "config/config_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kConfig[] = R"(
listen: 127.0.0.1:0
state_dir: state
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001"] }
  - { name: v2, endpoints: ["127.0.0.1:9002"] }
  - { name: v3, endpoints: ["127.0.0.1:9003"] }
routes:
  - name: infer
    match: { method_prefix: /inference. }
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
  - name: rest
    split: [ { pool: v1, weight: 1 } ]
)";

class ControllerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Controller> Start(const std::string& config_text = kConfig) {
    path_ = dir_.WriteFile("proxy.yaml", config_text);
    absl::StatusOr<Config> config = LoadConfigFile(path_);
    EXPECT_TRUE(config.ok()) << config.status();
    absl::StatusOr<std::unique_ptr<Controller>> controller = Controller::Create(*config);
    EXPECT_TRUE(controller.ok()) << controller.status();
    return controller.ok() ? *std::move(controller) : nullptr;
  }
  // The share (ppm) of `pool` in route `route` of the published table.
  uint32_t Share(const Controller& c, size_t route, const std::string& pool) {
    auto table = c.store()->Current();
    const auto& split = table->routes()[route].split;
    for (size_t i = 0; i < split.size(); ++i) {
      if (table->pools()[split.pool(i)].name == pool) return split.PartsPerMillion(i);
    }
    return 0;
  }

  testing::TempDir dir_;
  std::string path_;
};

TEST_F(ControllerTest, SetWeightsPublishesPersistsAndAudits) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  const uint64_t g0 = c->Current().generation;
  auto g1 = c->SetWeights("alice", "infer", {{"v1", 50}, {"v2", 50}}, g0, "canary to 50%");
  ASSERT_TRUE(g1.ok()) << g1.status();
  EXPECT_EQ(*g1, g0 + 1);
  EXPECT_EQ(Share(*c, 0, "v2"), 500000u);
  EXPECT_EQ(c->store()->Current()->generation(), *g1);
  EXPECT_EQ(c->Current().weights_source.at("infer"), "api");

  AuditLog::Page page = c->audit().Read({});
  ASSERT_EQ(page.entries.size(), 1u);
  const AuditEntry& e = page.entries[0];
  EXPECT_EQ(e.actor, "alice");
  EXPECT_EQ(e.verb, "SetWeights");
  EXPECT_EQ(e.route, "infer");
  EXPECT_EQ(e.before.dump(), R"({"v1":90.0,"v2":10.0})");
  EXPECT_EQ(e.after.dump(), R"({"v1":50.0,"v2":50.0})");
  EXPECT_EQ(e.reason, "canary to 50%");
  EXPECT_EQ(e.generation, *g1);

  std::ifstream state(dir_.path() + "/state/state.json");
  std::stringstream text;
  text << state.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("\"generation\": " + std::to_string(*g1)));
}

TEST_F(ControllerTest, InvalidChangesNameTheFieldAndApplyNothing) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  const uint64_t g0 = c->Current().generation;
  struct Case {
    std::string route;
    std::map<std::string, double> weights;
    std::string reason;
    std::string message;
  };
  for (const Case& bad : std::vector<Case>{
           {"nope", {{"v1", 1}}, "r", "route: unknown route \"nope\" (routes: infer, rest)"},
           {"infer", {{"v9", 1}}, "r", "weights[v9]: unknown pool \"v9\" (pools: v1, v2, v3)"},
           {"infer", {{"v1", -1}, {"v2", 3}}, "r", "weights[v1]: weight -1 must be a number >= 0"},
           {"infer", {{"v1", 0}, {"v2", 0}}, "r", "weights: all weights are zero"},
           {"infer", {}, "r", "weights: give at least one"},
           {"infer", {{"v1", 1}}, "", "reason: required"},
       }) {
    auto result = c->SetWeights("alice", bad.route, bad.weights, std::nullopt, bad.reason);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(result.status().message(), HasSubstr(bad.message));
  }
  EXPECT_EQ(c->Current().generation, g0);
  EXPECT_EQ(Share(*c, 0, "v2"), 100000u);
  EXPECT_THAT(c->audit().Read({}).entries, IsEmpty());
}

TEST_F(ControllerTest, StaleGenerationIsAbortedWithTheCurrentOne) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  const uint64_t g0 = c->Current().generation;
  ASSERT_TRUE(c->SetWeights("a", "infer", {{"v1", 1}}, g0, "first").ok());
  auto stale = c->SetWeights("b", "infer", {{"v2", 1}}, g0, "second");
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(stale.status().message(),
              HasSubstr("the current generation is " + std::to_string(g0 + 1)));
  EXPECT_EQ(Share(*c, 0, "v1"), 1000000u);
}

TEST_F(ControllerTest, ConcurrentCompareAndSetLetsExactlyOneWriterWinPerGeneration) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  constexpr int kWriters = 8;
  constexpr int kRounds = 25;
  std::atomic<int> won{0}, aborted{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int round = 0; round < kRounds; ++round) {
        const uint64_t seen = c->Current().generation;
        auto r = c->SetWeights("writer" + std::to_string(w), "infer",
                               {{"v1", 100.0 - w}, {"v2", static_cast<double>(w)}}, seen, "race");
        if (r.ok()) {
          ++won;
        } else if (r.status().code() == absl::StatusCode::kAborted) {
          ++aborted;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(won + aborted, kWriters * kRounds);
  // Each accepted write moved the generation by one, and each has one audit line.
  const auto entries = c->audit().Read({.limit = 1000}).entries;
  EXPECT_EQ(static_cast<int>(entries.size()), won.load());
  for (size_t i = 1; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].generation, entries[i - 1].generation + 1);
  }
}

TEST_F(ControllerTest, RestartRestoresWeightsGenerationAndAudit) {
  uint64_t generation;
  {
    auto c = Start();
    ASSERT_NE(c, nullptr);
    generation = *c->SetWeights("alice", "infer", {{"v1", 70}, {"v3", 30}}, std::nullopt, "try v3");
  }
  auto c = Start();  // same files
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Current().generation, generation) << "same table after restart: same generation";
  EXPECT_EQ(Share(*c, 0, "v3"), 300000u);
  EXPECT_EQ(c->audit().Read({}).entries.size(), 1u);
}

TEST_F(ControllerTest, ReloadKeepsApiWeightsUntilTheFileChangesThatRoute) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SetWeights("alice", "infer", {{"v1", 50}, {"v2", 50}}, std::nullopt, "x").ok());

  // A change elsewhere in the file (route "rest"): the API's weights for "infer" stay.
  dir_.WriteFile(
      "proxy.yaml",
      absl::StrReplaceAll(kConfig, {{"{ pool: v1, weight: 1 }", "{ pool: v3, weight: 1 }"}}));
  auto reloaded = c->Reload("ops", "rest to v3");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(reloaded->changed);
  EXPECT_EQ(Share(*c, 0, "v2"), 500000u);
  EXPECT_EQ(Share(*c, 1, "v3"), 1000000u);
  EXPECT_THAT(reloaded->notes, ::testing::Contains(HasSubstr("route infer: API weights kept")));

  // The file changes "infer" itself: now the file wins.
  dir_.WriteFile("proxy.yaml",
                 absl::StrReplaceAll(kConfig, {{"weight: 90 }, { pool: v2, weight: 10",
                                                "weight: 80 }, { pool: v2, weight: 20"}}));
  reloaded = c->Reload("ops", "file says 80/20");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(Share(*c, 0, "v2"), 200000u);
  EXPECT_EQ(c->Current().weights_source.at("infer"), "file");
  EXPECT_THAT(reloaded->notes, ::testing::Contains(HasSubstr("the file's weights win")));
  const auto audit = c->audit().Read({}).entries;
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[2].verb, "ReloadConfig");
  EXPECT_EQ(audit[2].actor, "ops");
}

// The fingerprints are the file's own text of each entry, made canonical: comments and
// layout are no change, and any key of a route (here one a hand list never had to know)
// is one.
TEST_F(ControllerTest, CommentsAndLayoutAreNoChangeButAnyKeyOfTheRouteIs) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SetWeights("alice", "infer", {{"v1", 50}, {"v2", 50}}, std::nullopt, "x").ok());
  const uint64_t generation = c->Current().generation;
  dir_.WriteFile("proxy.yaml",
                 absl::StrReplaceAll(kConfig, {{"    match: { method_prefix: /inference. }\n",
                                                "    # the KServe API\n    match:\n"
                                                "      method_prefix: \"/inference.\"\n"}}));
  auto reloaded = c->Reload("ops", "comments only");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_FALSE(reloaded->changed);
  EXPECT_EQ(c->Current().generation, generation);
  EXPECT_EQ(Share(*c, 0, "v2"), 500000u);

  dir_.WriteFile("proxy.yaml", absl::StrReplaceAll(
                                   kConfig, {{"match: { method_prefix: /inference. }",
                                              "match: { method_prefix: /inference., model: m }"}}));
  reloaded = c->Reload("ops", "a model condition");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(reloaded->changed);
  EXPECT_THAT(reloaded->notes, ::testing::Contains(HasSubstr("the file's weights win")));
}

// A state file from before the fingerprint format: its API weights survive the upgrade.
TEST_F(ControllerTest, WeightsRecordedByAnOlderVersionAreKept) {
  {
    auto c = Start();
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->SetWeights("alice", "infer", {{"v1", 60}, {"v2", 40}}, std::nullopt, "x").ok());
  }
  const std::string state_path = dir_.path() + "/state/state.json";
  std::ifstream in(state_path);
  ASSERT_TRUE(in) << state_path;
  nlohmann::json state = nlohmann::json::parse(in);
  in.close();
  for (auto& [route, o] : state["overrides"].items()) o["file_fingerprint"] = "old-format";
  std::ofstream(state_path) << state.dump();
  auto c = Start();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Share(*c, 0, "v2"), 400000u);
  EXPECT_THAT(c->startup_notes(),
              ::testing::Contains(HasSubstr("API weights kept (recorded by an older version)")));
}

TEST_F(ControllerTest, InvalidReloadChangesNothing) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  const uint64_t g0 = c->Current().generation;
  dir_.WriteFile("proxy.yaml",
                 absl::StrReplaceAll(kConfig, {{"pool: v2, weight: 10", "pool: v7, weight: 10"}}));
  auto reloaded = c->Reload("ops", "typo");
  ASSERT_FALSE(reloaded.ok());
  EXPECT_THAT(reloaded.status().message(), HasSubstr("reload rejected, nothing changed: "));
  EXPECT_THAT(reloaded.status().message(), HasSubstr("unknown pool \"v7\""));
  EXPECT_EQ(c->Current().generation, g0);
  EXPECT_EQ(Share(*c, 0, "v2"), 100000u);
  // Reloading an unchanged file publishes nothing new.
  dir_.WriteFile("proxy.yaml", kConfig);
  reloaded = c->Reload("ops", "same");
  ASSERT_TRUE(reloaded.ok());
  EXPECT_FALSE(reloaded->changed);
  EXPECT_EQ(c->Current().generation, g0);
}

TEST_F(ControllerTest, CorruptStateIsMovedAsideLoudlyNotSilentlyReset) {
  std::system(("mkdir -p " + dir_.path() + "/state").c_str());
  dir_.WriteFile("state/state.json", "{\"format\": 1, \"generation\": \"lots\"");
  auto c = Start();
  ASSERT_NE(c, nullptr);
  EXPECT_THAT(c->startup_notes(), ::testing::Contains(HasSubstr("corrupt state: ")));
  EXPECT_THAT(c->startup_notes(), ::testing::Contains(HasSubstr("state.json.corrupt-")));
  const auto audit = c->audit().Read({}).entries;
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].verb, "StateReset");
  EXPECT_EQ(Share(*c, 0, "v2"), 100000u);  // the file's weights
}

TEST_F(ControllerTest, TornAuditLineFromAKilledWriterIsSkipped) {
  std::system(("mkdir -p " + dir_.path() + "/state").c_str());
  dir_.WriteFile(
      "state/audit.log",
      R"({"time":"2026-01-01T00:00:00Z","actor":"a","verb":"SetWeights","route":"infer","before":{},"after":{},"reason":"r","generation":3})"
      "\n{\"time\":\"2026-01-01T00:00:01Z\",\"act");
  auto c = Start();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->SetWeights("b", "infer", {{"v1", 1}}, std::nullopt, "after the crash").ok());
  // Reopen: the old entry, the new one, and nothing glued to the torn line.
  auto log = AuditLog::Open(dir_.path() + "/state/audit.log");
  ASSERT_TRUE(log.ok());
  const auto entries = (*log)->Read({}).entries;
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].reason, "after the crash");
}

TEST(AuditLogTest, FiltersByRouteAndTimeAndPages) {
  auto log = AuditLog::Open("");
  ASSERT_TRUE(log.ok());
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE((*log)
                    ->Append({t0 + absl::Minutes(i), "a", "SetWeights", i % 2 ? "odd" : "even",
                              nullptr, nullptr, "r", static_cast<uint64_t>(i)})
                    .ok());
  }
  auto odd = (*log)->Read({.route = "odd"});
  EXPECT_EQ(odd.entries.size(), 5u);
  auto window = (*log)->Read({.since = t0 + absl::Minutes(3), .until = t0 + absl::Minutes(6)});
  EXPECT_EQ(window.entries.size(), 4u);
  auto first = (*log)->Read({.limit = 4});
  ASSERT_EQ(first.entries.size(), 4u);
  ASSERT_TRUE(first.next.has_value());
  auto second = (*log)->Read({.start = *first.next, .limit = 100});
  EXPECT_EQ(second.entries.size(), 6u);
  EXPECT_FALSE(second.next.has_value());
  EXPECT_EQ(second.entries[0].generation, 4u);
}

TEST(StateStoreTest, SaveIsAtomicAndLoadNamesCorruption) {
  testing::TempDir dir;
  StateStore store(dir.path());
  EXPECT_FALSE(store.Load()->has_value());
  PersistedState state;
  state.generation = 42;
  state.overrides["infer"] = {{{"v1", 60}, {"v2", 40}}, "fp"};
  ASSERT_TRUE(store.Save(state).ok());
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->generation, 42u);
  EXPECT_EQ((*loaded)->overrides.at("infer").split[1].weight, 40);
  EXPECT_NE(access((dir.path() + "/state.json.tmp").c_str(), F_OK), 0) << "temp file left";
  dir.WriteFile("state.json", "{\"format\": 1, \"generation\": 1, \"overrides\": {\"r\": 3}}");
  auto corrupt = store.Load();
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(corrupt.status().message(), HasSubstr("state.json: corrupt state: overrides.r"));
}

}  // namespace
}  // namespace rollout::control
