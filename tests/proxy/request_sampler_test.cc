#include "proxy/request_sampler.h"

#include <gtest/gtest.h>

#include <string>

namespace rollout::proxy {
namespace {

constexpr char kInfer[] = "/inference.GRPCInferenceService/ModelInfer";

void Send(RequestSampler* sampler, const std::string& route, const std::string& body) {
  std::unique_ptr<RequestSampler::Copy> copy = sampler->Begin(route, kInfer);
  if (copy == nullptr) return;
  copy->Append(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  copy->Keep();
}

TEST(RequestSamplerTest, CopiesNothingUntilARouteIsArmed) {
  RequestSampler sampler;
  EXPECT_EQ(sampler.Begin("infer", kInfer), nullptr);
  EXPECT_FALSE(sampler.Look("infer").armed);
  const uint64_t armed = sampler.Arm("infer", {.count = 5, .bytes = 1 << 20});
  EXPECT_EQ(sampler.Begin("other", kInfer), nullptr);  // only the armed route
  Send(&sampler, "infer", "abc");
  const RequestSampler::Progress p = sampler.Look("infer");
  EXPECT_TRUE(p.armed);
  EXPECT_EQ(p.count, 1u);
  EXPECT_EQ(p.bytes, 3u);
  EXPECT_TRUE(sampler.Disarm("infer", armed + 1).empty());  // not that sample
  std::vector<RequestSampler::Request> sample = sampler.Disarm("infer", armed);
  ASSERT_EQ(sample.size(), 1u);
  EXPECT_EQ(sample[0].method, kInfer);
  EXPECT_EQ(sample[0].body, "abc");
  EXPECT_EQ(sampler.Begin("infer", kInfer), nullptr);  // disarmed: nothing is copied
}

TEST(RequestSamplerTest, StopsCopyingOnceTheCountIsReached) {
  RequestSampler sampler;
  const uint64_t armed = sampler.Arm("infer", {.count = 3, .bytes = 1 << 20});
  for (int i = 0; i < 10; ++i) Send(&sampler, "infer", std::to_string(i));
  EXPECT_TRUE(sampler.Look("infer").full);
  EXPECT_EQ(sampler.Begin("infer", kInfer), nullptr);  // full: the data path copies no more
  std::vector<RequestSampler::Request> sample = sampler.Disarm("infer", armed);
  ASSERT_EQ(sample.size(), 3u);
  EXPECT_EQ(sample[2].body, "2");
}

TEST(RequestSamplerTest, CopiesInFlightNeverHoldMoreThanTheByteBudget) {
  RequestSampler sampler;
  sampler.Arm("infer", {.count = 100, .bytes = 1600});  // each copy may grow to 100 bytes
  std::vector<std::unique_ptr<RequestSampler::Copy>> copies;
  for (int i = 0; i < 16; ++i) {
    copies.push_back(sampler.Begin("infer", kInfer));
    ASSERT_NE(copies.back(), nullptr);
  }
  EXPECT_EQ(sampler.Begin("infer", kInfer), nullptr);  // the budget is reserved by the 16
  copies.pop_back();                                   // a client went away: dropped
  EXPECT_EQ(sampler.Look("infer").count, 0u);
  EXPECT_NE(sampler.Begin("infer", kInfer), nullptr);  // its reservation came back
}

TEST(RequestSamplerTest, ARequestOverItsShareIsCountedAndNotKept) {
  RequestSampler sampler;
  sampler.Arm("infer", {.count = 10, .bytes = 1600});
  Send(&sampler, "infer", std::string(101, 'x'));
  const RequestSampler::Progress p = sampler.Look("infer");
  EXPECT_EQ(p.count, 0u);
  EXPECT_EQ(p.too_large, 1u);
  EXPECT_FALSE(p.full);
}

TEST(RequestSamplerTest, IsFullWhenNoRequestOfTheLargestSizeFitsAnyMore) {
  RequestSampler sampler;
  sampler.Arm("infer", {.count = 1000, .bytes = 1600});
  for (int i = 0; i < 15; ++i) Send(&sampler, "infer", std::string(100, 'x'));
  EXPECT_FALSE(sampler.Look("infer").full);  // 1500 bytes: one more of 100 fits
  Send(&sampler, "infer", std::string(1, 'x'));
  EXPECT_TRUE(sampler.Look("infer").full);  // 1501: not one more of 100
  EXPECT_EQ(sampler.Look("infer").count, 16u);
}

TEST(RequestSamplerTest, ACopyBegunBeforeARearmIsNotMixedIntoTheNewSample) {
  RequestSampler sampler;
  sampler.Arm("infer", {.count = 10, .bytes = 1 << 20});
  std::unique_ptr<RequestSampler::Copy> old = sampler.Begin("infer", kInfer);
  ASSERT_NE(old, nullptr);
  const uint64_t armed = sampler.Arm("infer", {.count = 10, .bytes = 1 << 20});
  old->Append(reinterpret_cast<const uint8_t*>("old"), 3);
  old->Keep();
  Send(&sampler, "infer", "new");
  std::vector<RequestSampler::Request> sample = sampler.Disarm("infer", armed);
  ASSERT_EQ(sample.size(), 1u);
  EXPECT_EQ(sample[0].body, "new");
}

}  // namespace
}  // namespace rollout::proxy
