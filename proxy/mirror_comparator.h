// Compares a shadow (mirror) call's answers with the primary's.
//
// Messages are compared in order. Byte-equal answers match. For KServe ModelInfer and
// ModelStreamInfer, answers that differ in bytes are decoded and their output tensors
// compared by name: datatype and shape must agree, and every element within `tolerance`
// (absolute). The verdict carries the largest difference seen, the signal a model rollout
// needs: "the candidate agrees with stable on 99.7% of predictions, max |diff| 3e-6".
//
// Top-1 agreement: every FP32 or FP64 output whose last dimension has 2 or more entries is
// taken as class scores, one row per prediction; the verdict counts the rows whose argmax
// (the predicted class; the first on ties) is the same on both sides. A candidate can
// drift numerically past `tolerance` and still predict the same classes, or the reverse.
//
// Thread-safety: a pure function.
#ifndef ROLLOUT_PROXY_MIRROR_COMPARATOR_H_
#define ROLLOUT_PROXY_MIRROR_COMPARATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rollout::proxy {

struct MirrorVerdict {
  bool match = false;
  double max_difference = 0;   // over compared numeric elements; infinity for shape changes
  std::string detail;          // why it did not match
  uint64_t top1_agree = 0;     // classifier rows with the same argmax on both sides
  uint64_t top1_disagree = 0;  // ... and with another
};

MirrorVerdict CompareAnswers(absl::string_view method, const std::vector<std::string>& primary,
                             const std::vector<std::string>& shadow, double tolerance);

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_MIRROR_COMPARATOR_H_
