// The compatibility gate's rules: which schema differences break callers, and when the
// gate runs at all (its plan). The probing over gRPC is tested end to end with real
// demo-model-server processes (tests/cmd/release_process_test.cc).
#include "rollout/compatibility.h"

#include "config/config_loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rollout/compatibility_gate.h"
#include "tests/support/child_process.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

ModelSchema Classifier(int64_t features) {
  ModelSchema s;
  s.model = "clf";
  s.inputs = {{"features", "FP32", {-1, features}}};
  s.outputs = {{"probabilities", "FP32", {-1, 3}}, {"class", "INT64", {-1}}};
  return s;
}

TEST(SchemaMismatchTest, SameSchemaAndFreeDimensionsAgree) {
  EXPECT_EQ(SchemaMismatch(Classifier(4), Classifier(4)), std::nullopt);
  ModelSchema fixed_batch = Classifier(4);
  fixed_batch.inputs[0].shape = {8, 4};  // -1 on the other side matches any size
  EXPECT_EQ(SchemaMismatch(Classifier(4), fixed_batch), std::nullopt);
  EXPECT_EQ(SchemaMismatch(fixed_batch, Classifier(4)), std::nullopt);
}

TEST(SchemaMismatchTest, NamesTheTensorAndTheDifferenceCandidateFirst) {
  EXPECT_THAT(SchemaMismatch(Classifier(4), Classifier(5)),
              Optional(std::string("input \"features\" shape [-1,5] vs [-1,4]")));
  ModelSchema rank = Classifier(4);
  rank.inputs[0].shape = {-1, 4, 1};
  EXPECT_THAT(SchemaMismatch(Classifier(4), rank),
              Optional(std::string("input \"features\" shape [-1,4,1] vs [-1,4]")));
  ModelSchema fp16 = Classifier(4);
  fp16.inputs[0].datatype = "FP16";
  EXPECT_THAT(SchemaMismatch(Classifier(4), fp16),
              Optional(std::string("input \"features\" datatype FP16 vs FP32")));
  ModelSchema renamed = Classifier(4);
  renamed.inputs[0].name = "x";
  EXPECT_THAT(SchemaMismatch(Classifier(4), renamed),
              Optional(std::string("input \"features\" missing in the candidate")));
  ModelSchema extra_input = Classifier(4);
  extra_input.inputs.push_back({"mask", "BOOL", {-1}});
  EXPECT_THAT(SchemaMismatch(Classifier(4), extra_input),
              Optional(HasSubstr("input \"mask\" only in the candidate")));
  ModelSchema no_class = Classifier(4);
  no_class.outputs.pop_back();
  EXPECT_THAT(SchemaMismatch(Classifier(4), no_class),
              Optional(std::string("output \"class\" missing in the candidate")));
  ModelSchema three_classes = Classifier(4);
  three_classes.outputs[0].shape = {-1, 5};
  EXPECT_THAT(SchemaMismatch(Classifier(4), three_classes),
              Optional(std::string("output \"probabilities\" shape [-1,5] vs [-1,3]")));
}

TEST(SchemaMismatchTest, AnOutputOnlyTheCandidateHasIsCompatibleAndNoted) {
  ModelSchema more = Classifier(4);
  more.outputs.push_back({"embedding", "FP32", {-1, 16}});
  EXPECT_EQ(SchemaMismatch(Classifier(4), more), std::nullopt);
  EXPECT_EQ(ExtraOutputs(Classifier(4), more), std::vector<std::string>{"embedding"});
}

class CompatibilityPlanTest : public ::testing::Test {
 protected:
  std::shared_ptr<const routing::RoutingTable> Table(const std::string& prefix) {
    const std::string path = dir_.WriteFile("proxy.yaml", absl::StrCat(R"(
listen: 127.0.0.1:0
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001", "127.0.0.1:9011"] }
  - { name: v2, endpoints: ["127.0.0.1:9002"], model_name: clf, model_version: "2" }
routes:
  - name: infer
    match: { method_prefix: )",
                                                                       prefix, R"( }
    split: [ { pool: v1, weight: 100 } ]
)"));
    absl::StatusOr<Config> config = LoadConfigFile(path);
    EXPECT_TRUE(config.ok()) << config.status();
    return config->table;
  }
  RolloutSpec Spec(Compatibility c = Compatibility::kAuto) {
    RolloutSpec spec;
    spec.route = "infer";
    spec.stable = "v1";
    spec.candidate = "v2";
    spec.stable_version = "one";
    spec.compatibility = c;
    return spec;
  }
  testing::TempDir dir_;
};

TEST_F(CompatibilityPlanTest, AsksEachEndpointForTheModelItsVersionOrPoolNames) {
  VersionRecord one;
  one.name = "one";
  one.pool = "v1";
  one.model = "clf";
  one.model_version = "1";
  auto plan =
      CompatibilityGate::Make(*Table("/inference.GRPCInferenceService/"), Spec(), {{"one", one}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->run);
  EXPECT_EQ(plan->stable.name, "one");
  ASSERT_EQ(plan->stable.targets.size(), 2u);
  EXPECT_EQ(plan->stable.targets[1].endpoint, "127.0.0.1:9011");
  EXPECT_EQ(plan->stable.targets[0].model_version, "1");
  ASSERT_EQ(plan->candidate.targets.size(), 1u);
  EXPECT_EQ(plan->candidate.targets[0].model, "clf");  // the pool's model_name
  EXPECT_EQ(plan->candidate.targets[0].model_version, "2");
}

TEST_F(CompatibilityPlanTest, SkipsSayingWhyUnlessTheSpecAsksForTheGate) {
  auto table = Table("/inference.GRPCInferenceService/");
  // No model name for the stable side (no version record, no pool model_name).
  auto plan = CompatibilityGate::Make(*table, Spec(), {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->run);
  EXPECT_THAT(plan->skipped, HasSubstr("the model's name is not known for one"));
  EXPECT_EQ(CompatibilityGate::Run(*plan, nullptr, absl::Seconds(1)).state, GateState::kSkipped);
  absl::Status required =
      CompatibilityGate::Make(*table, Spec(Compatibility::kSchema), {}).status();
  EXPECT_EQ(required.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(required.message(), HasSubstr("compatibility: schema cannot run"));

  auto other = CompatibilityGate::Make(*Table("/search.Search/"), Spec(), {});
  ASSERT_TRUE(other.ok());
  EXPECT_THAT(other->skipped, HasSubstr("does not carry the KServe v2 service"));
  auto off = CompatibilityGate::Make(*table, Spec(Compatibility::kNone), {});
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->skipped, "compatibility: none");
}

}  // namespace
}  // namespace rollout::control
