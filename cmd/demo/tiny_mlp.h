// TinyMlp: the small classifier that demo-model-server hosts, computed for real.
//
// 4 FP32 features -> 8 ReLU units -> 3 softmax classes. The weights are drawn from a seed
// derived from the version string, so "v1" and "v2" are two different models that give
// different answers, and every process serving "v2" gives the same ones.
//
//   TinyMlp model("v2");
//   std::array<float, 3> p = model.Predict({5.1f, 3.5f, 1.4f, 0.2f});
//
// Thread-safety: immutable after construction.
#ifndef ROLLOUT_CMD_DEMO_TINY_MLP_H_
#define ROLLOUT_CMD_DEMO_TINY_MLP_H_

#include <array>
#include <string>

namespace rollout::demo {

class TinyMlp final {
 public:
  static constexpr int kInputs = 4;
  static constexpr int kHidden = 8;
  static constexpr int kClasses = 3;

  explicit TinyMlp(const std::string& version);

  // Class probabilities (they sum to 1).
  std::array<float, kClasses> Predict(const std::array<float, kInputs>& features) const;

 private:
  float w1_[kHidden][kInputs];
  float b1_[kHidden];
  float w2_[kClasses][kHidden];
  float b2_[kClasses];
};

}  // namespace rollout::demo

#endif  // ROLLOUT_CMD_DEMO_TINY_MLP_H_
