#include "proxy/mirror_comparator.h"

#include <cmath>
#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.pb.h"

namespace rollout::proxy {
namespace {

using ::testing::HasSubstr;

std::string Answer(const std::vector<float>& probabilities, const std::string& version = "v1",
                   int64_t rows = 1) {
  inference::ModelInferResponse r;
  r.set_model_name("classifier");
  r.set_model_version(version);
  auto* out = r.add_outputs();
  out->set_name("probabilities");
  out->set_datatype("FP32");
  out->add_shape(rows);
  out->add_shape(static_cast<int64_t>(probabilities.size()) / rows);
  r.add_raw_output_contents(std::string(reinterpret_cast<const char*>(probabilities.data()),
                                        probabilities.size() * sizeof(float)));
  return r.SerializeAsString();
}

constexpr char kInfer[] = "/inference.GRPCInferenceService/ModelInfer";

TEST(MirrorComparatorTest, ClassifierRowsCountTopOneAgreement) {
  // Two rows of three classes: the first keeps its top class, the second changes it.
  const std::string primary = Answer({0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f}, "v1", 2);
  const std::string shadow = Answer({0.2f, 0.6f, 0.2f, 0.3f, 0.4f, 0.3f}, "v2", 2);
  MirrorVerdict v = CompareAnswers(kInfer, {primary}, {shadow}, 0.5);
  EXPECT_TRUE(v.match) << "within tolerance, yet one prediction changed";
  EXPECT_EQ(v.top1_agree, 1u);
  EXPECT_EQ(v.top1_disagree, 1u);
  // Byte-equal answers agree on every row.
  v = CompareAnswers(kInfer, {primary, primary}, {primary, primary}, 0);
  EXPECT_EQ(v.top1_agree, 4u);
  EXPECT_EQ(v.top1_disagree, 0u);
  // A single score per row is no classifier: nothing is counted.
  v = CompareAnswers(kInfer, {Answer({0.5f, 0.25f}, "v1", 2)}, {Answer({0.4f, 0.3f}, "v2", 2)}, 1);
  EXPECT_EQ(v.top1_agree + v.top1_disagree, 0u);
}

TEST(MirrorComparatorTest, ByteEqualAnswersMatch) {
  auto v = CompareAnswers("/any.Service/Call", {"abc", "def"}, {"abc", "def"}, 0);
  EXPECT_TRUE(v.match);
  EXPECT_EQ(v.max_difference, 0);
  EXPECT_FALSE(CompareAnswers("/any.Service/Call", {"abc"}, {"abd"}, 1).match);
  EXPECT_THAT(CompareAnswers("/any.Service/Call", {"a"}, {"a", "b"}, 0).detail,
              HasSubstr("1 primary answers, 2 shadow answers"));
}

TEST(MirrorComparatorTest, ModelInferOutputsCompareNumericallyIgnoringTheVersion) {
  const std::string primary = Answer({0.5f, 0.3f, 0.2f}, "v1");
  auto close = CompareAnswers(kInfer, {primary}, {Answer({0.5f, 0.3f, 0.2000005f}, "v2")}, 1e-5);
  EXPECT_TRUE(close.match) << close.detail;
  EXPECT_NEAR(close.max_difference, 5e-7, 1e-7);
  auto far = CompareAnswers(kInfer, {primary}, {Answer({0.1f, 0.3f, 0.6f}, "v2")}, 1e-5);
  EXPECT_FALSE(far.match);
  EXPECT_NEAR(far.max_difference, 0.4, 1e-6);
  EXPECT_THAT(far.detail, HasSubstr("> tolerance"));
  auto shape =
      CompareAnswers(kInfer, {Answer({1, 2, 3, 4}, "v1", 1)}, {Answer({1, 2, 3, 4}, "v2", 2)}, 1);
  EXPECT_FALSE(shape.match);
  EXPECT_TRUE(std::isinf(shape.max_difference));
  EXPECT_THAT(shape.detail, HasSubstr("changed type or shape"));
}

}  // namespace
}  // namespace rollout::proxy
