#include "cmd/demo/tiny_mlp.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "routing/split_mix.h"

namespace rollout::demo {
namespace {

// Deterministic across platforms and library versions, unlike std distributions.
class WeightSource {
 public:
  explicit WeightSource(uint64_t seed) : state_(seed) {}
  float Next() {  // uniform in [-1, 1)
    const uint64_t z = routing::SplitMix64Next(state_);
    return static_cast<float>(static_cast<double>(z >> 11) / 4503599627370496.0 - 1.0);
  }

 private:
  uint64_t state_;
};

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

}  // namespace

TinyMlp::TinyMlp(const std::string& version, int inputs)
    : inputs_(inputs), w1_(static_cast<size_t>(kHidden) * inputs) {
  WeightSource rng(Fnv1a(version));
  for (float& w : w1_) w = rng.Next();
  for (float& b : b1_) b = rng.Next() * 0.1f;
  for (auto& row : w2_) {
    for (float& w : row) w = rng.Next();
  }
  for (float& b : b2_) b = rng.Next() * 0.1f;
}

std::array<float, TinyMlp::kClasses> TinyMlp::Predict(const float* features) const {
  float hidden[kHidden];
  for (int h = 0; h < kHidden; ++h) {
    float sum = b1_[h];
    for (int i = 0; i < inputs_; ++i) sum += w1_[h * inputs_ + i] * features[i];
    hidden[h] = std::max(0.0f, sum);
  }
  std::array<float, kClasses> logits;
  for (int c = 0; c < kClasses; ++c) {
    float sum = b2_[c];
    for (int h = 0; h < kHidden; ++h) sum += w2_[c][h] * hidden[h];
    logits[c] = sum;
  }
  const float top = *std::max_element(logits.begin(), logits.end());
  float total = 0;
  for (float& l : logits) total += (l = std::exp(l - top));
  for (float& l : logits) l /= total;
  return logits;
}

}  // namespace rollout::demo
