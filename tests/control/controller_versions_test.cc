// The Controller's version registry with real files: add, deactivate, the rules that keep
// a deactivated version from traffic, and the records surviving a restart.
#include <fstream>

#include "config/config_loader.h"
#include "control/controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

constexpr char kConfig[] = R"(
listen: 127.0.0.1:0
state_dir: state
pools:
  - { name: stable, endpoints: ["127.0.0.1:9001"] }
  - { name: canary, endpoints: ["127.0.0.1:9002"] }
  - { name: spare, endpoints: ["127.0.0.1:9003"] }
routes:
  - name: infer
    split: [ { pool: stable, weight: 100 } ]
)";

constexpr char kDigest[] =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class ControllerVersionsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Controller> Start() {
    const std::string path = dir_.WriteFile("proxy.yaml", kConfig);
    absl::StatusOr<Config> config = LoadConfigFile(path);
    EXPECT_TRUE(config.ok()) << config.status();
    absl::StatusOr<std::unique_ptr<Controller>> c = Controller::Create(*config);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  static VersionRecord Version(const std::string& name, const std::string& pool) {
    VersionRecord v;
    v.name = name;
    v.pool = pool;
    v.model = "clf";
    v.model_version = "2";
    v.artifact = "s3://models/clf/2";
    v.digest = kDigest;
    v.notes = "retrained";
    return v;
  }

  testing::TempDir dir_;
};

TEST_F(ControllerVersionsTest, AddRecordsWhoAndWhenAuditsAndSurvivesRestart) {
  {
    auto c = Start();
    ASSERT_NE(c, nullptr);
    absl::StatusOr<VersionRecord> v = c->AddVersion("alice", Version("v2", "canary"), "");
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->registered_by, "alice");
    EXPECT_NE(v->registered, absl::InfinitePast());
    EXPECT_EQ(v->first_served, absl::InfinitePast());  // canary has no traffic yet
    // A version on a pool that already serves is served from its registration.
    absl::StatusOr<VersionRecord> v1 = c->AddVersion("alice", Version("v1", "stable"), "");
    ASSERT_TRUE(v1.ok()) << v1.status();
    EXPECT_NE(v1->first_served, absl::InfinitePast());
    AuditLog::Page page = c->audit().Read({});
    ASSERT_EQ(page.entries.size(), 2u);
    EXPECT_EQ(page.entries[0].verb, "AddVersion");
    EXPECT_EQ(page.entries[0].reason, "registered version v2");
    EXPECT_EQ(page.entries[0].after["digest"], kDigest);
  }
  auto c = Start();
  ASSERT_NE(c, nullptr);
  const auto versions = c->Versions();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions.at("v2").pool, "canary");
  EXPECT_EQ(versions.at("v2").artifact, "s3://models/clf/2");
  EXPECT_EQ(versions.at("v2").registered_by, "alice");
}

TEST_F(ControllerVersionsTest, AddRefusesBadFieldsTakenNamesAndOccupiedPools) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  VersionRecord bad = Version("v 2", "canary");
  EXPECT_THAT(c->AddVersion("a", bad, "").status().message(), HasSubstr("name: \"v 2\""));
  bad = Version("v2", "canary");
  bad.digest = "sha256:abc";
  EXPECT_THAT(c->AddVersion("a", bad, "").status().message(), HasSubstr("digest:"));
  absl::Status unknown = c->AddVersion("a", Version("v2", "nope"), "").status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.message(), HasSubstr("unknown pool \"nope\" (pools: stable, canary, spare)"));

  ASSERT_TRUE(c->AddVersion("a", Version("v2", "canary"), "").ok());
  absl::Status taken = c->AddVersion("a", Version("v2", "spare"), "").status();
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists);
  absl::Status occupied = c->AddVersion("a", Version("v3", "canary"), "").status();
  EXPECT_EQ(occupied.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(occupied.message(), HasSubstr("pool canary already holds version \"v2\""));
  EXPECT_EQ(c->Versions().size(), 1u);
}

TEST_F(ControllerVersionsTest, DeactivateIsRefusedWhileServingAndThenFinal) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->AddVersion("a", Version("v2", "canary"), "").ok());
  ASSERT_TRUE(c->SetWeights("a", "infer", {{"stable", 75}, {"canary", 25}}, {}, "canary").ok());
  EXPECT_NE(c->Versions().at("v2").first_served, absl::InfinitePast());

  absl::Status serving = c->DeactivateVersion("bob", "v2", "CVE").status();
  EXPECT_EQ(serving.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(serving.message(), HasSubstr("route infer sends it 25%"));
  EXPECT_EQ(c->DeactivateVersion("bob", "v2", "").status().code(),
            absl::StatusCode::kInvalidArgument);  // a reason is required
  EXPECT_EQ(c->DeactivateVersion("bob", "v9", "x").status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(c->SetWeights("a", "infer", {{"stable", 100}}, {}, "back").ok());
  absl::StatusOr<VersionRecord> off = c->DeactivateVersion("bob", "v2", "CVE-2026-1234");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_TRUE(off->deactivated);
  EXPECT_EQ(off->deactivated_by, "bob");

  // Never again given traffic, by version or by pool.
  absl::Status weights =
      c->SetWeights("a", "infer", {{"stable", 50}, {"canary", 50}}, {}, "x").status();
  EXPECT_EQ(weights.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(weights.message(), HasSubstr("version \"v2\" (pool canary) is deactivated by bob"));
  EXPECT_THAT(weights.message(), HasSubstr("CVE-2026-1234"));
  EXPECT_EQ(c->ResolveVersion("v2").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->ResolveVersion("canary").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->DeactivateVersion("bob", "v2", "again").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A zero weight for it is no traffic, and is allowed.
  EXPECT_TRUE(c->SetWeights("a", "infer", {{"stable", 1}, {"canary", 0}}, {}, "x").ok());

  // The pool can take a new version, which gives it traffic again.
  ASSERT_TRUE(c->AddVersion("a", Version("v3", "canary"), "").ok());
  absl::StatusOr<Controller::Named> named = c->ResolveVersion("canary");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->version, "v3");
  EXPECT_TRUE(c->SetWeights("a", "infer", {{"stable", 50}, {"canary", 50}}, {}, "v3").ok());
}

TEST_F(ControllerVersionsTest, ResolveNamesVersionsAndPools) {
  auto c = Start();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->AddVersion("a", Version("v2", "canary"), "").ok());
  absl::StatusOr<Controller::Named> by_version = c->ResolveVersion("v2");
  ASSERT_TRUE(by_version.ok());
  EXPECT_EQ(by_version->pool, "canary");
  EXPECT_EQ(by_version->version, "v2");
  absl::StatusOr<Controller::Named> by_pool = c->ResolveVersion("canary");
  ASSERT_TRUE(by_pool.ok());
  EXPECT_EQ(by_pool->version, "v2");
  absl::StatusOr<Controller::Named> plain = c->ResolveVersion("spare");  // as before versions
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->pool, "spare");
  EXPECT_EQ(plain->version, "");
}

}  // namespace
}  // namespace rollout::control
