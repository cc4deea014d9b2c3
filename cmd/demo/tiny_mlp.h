// TinyMlp: the small classifier that demo-model-server hosts, computed for real.
//
// N FP32 features (4 by default) -> 8 ReLU units -> 3 softmax classes. The weights are
// drawn from a seed derived from the version string, so "v1" and "v2" are two different
// models that give different answers, and every process serving "v2" gives the same ones.
//
//   TinyMlp model("v2");
//   const float features[] = {5.1f, 3.5f, 1.4f, 0.2f};
//   std::array<float, 3> p = model.Predict(features);
//
// Thread-safety: immutable after construction.
#ifndef ROLLOUT_CMD_DEMO_TINY_MLP_H_
#define ROLLOUT_CMD_DEMO_TINY_MLP_H_

#include <array>
#include <string>
#include <vector>

namespace rollout::demo {

class TinyMlp final {
 public:
  static constexpr int kInputs = 4;  // the default
  static constexpr int kHidden = 8;
  static constexpr int kClasses = 3;

  explicit TinyMlp(const std::string& version, int inputs = kInputs);

  int inputs() const { return inputs_; }
  // Class probabilities (they sum to 1), for inputs() features.
  std::array<float, kClasses> Predict(const float* features) const;

 private:
  int inputs_;
  std::vector<float> w1_;  // [kHidden][inputs_]
  float b1_[kHidden];
  float w2_[kClasses][kHidden];
  float b2_[kClasses];
};

}  // namespace rollout::demo

#endif  // ROLLOUT_CMD_DEMO_TINY_MLP_H_
