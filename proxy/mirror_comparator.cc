#include "proxy/mirror_comparator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "inference/grpc_predict_v2.pb.h"

namespace rollout::proxy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Element i of output `index` as a double, from raw bytes or typed contents.
bool Values(const inference::ModelInferResponse& r, int index, std::vector<double>* out) {
  const auto& t = r.outputs(index);
  out->clear();
  if (index < r.raw_output_contents_size()) {
    const std::string& raw = r.raw_output_contents(index);
    auto read = [&](auto zero) {
      using T = decltype(zero);
      if (raw.size() % sizeof(T) != 0) return false;
      for (size_t i = 0; i < raw.size(); i += sizeof(T)) {
        T v;
        std::memcpy(&v, raw.data() + i, sizeof(T));
        out->push_back(static_cast<double>(v));
      }
      return true;
    };
    if (t.datatype() == "FP32") return read(float{});
    if (t.datatype() == "FP64") return read(double{});
    if (t.datatype() == "INT64") return read(int64_t{});
    if (t.datatype() == "INT32") return read(int32_t{});
    if (t.datatype() == "UINT8" || t.datatype() == "BOOL") return read(uint8_t{});
    return false;
  }
  const auto& c = t.contents();
  for (float v : c.fp32_contents()) out->push_back(v);
  for (double v : c.fp64_contents()) out->push_back(v);
  for (int64_t v : c.int64_contents()) out->push_back(static_cast<double>(v));
  for (int32_t v : c.int_contents()) out->push_back(v);
  for (bool v : c.bool_contents()) out->push_back(v ? 1 : 0);
  return true;
}

// Counts the rows of class scores `x` and `y` (`classes` per row) whose argmax agrees.
void CountTop1(const std::vector<double>& x, const std::vector<double>& y, size_t classes,
               MirrorVerdict* v) {
  for (size_t row = 0; row + classes <= x.size(); row += classes) {
    const auto top_x = std::max_element(x.begin() + row, x.begin() + row + classes);
    const auto top_y = std::max_element(y.begin() + row, y.begin() + row + classes);
    if (top_x - x.begin() == top_y - y.begin()) {
      ++v->top1_agree;
    } else {
      ++v->top1_disagree;
    }
  }
}

MirrorVerdict CompareInfer(const inference::ModelInferResponse& a,
                           const inference::ModelInferResponse& b, double tolerance) {
  MirrorVerdict v;
  v.match = true;
  for (int i = 0; i < a.outputs_size(); ++i) {
    int j = -1;
    for (int k = 0; k < b.outputs_size(); ++k) {
      if (b.outputs(k).name() == a.outputs(i).name()) j = k;
    }
    if (j < 0) return {false, kInf, absl::StrCat("output \"", a.outputs(i).name(), "\" missing")};
    if (a.outputs(i).datatype() != b.outputs(j).datatype() ||
        a.outputs(i).shape_size() != b.outputs(j).shape_size() ||
        !std::equal(a.outputs(i).shape().begin(), a.outputs(i).shape().end(),
                    b.outputs(j).shape().begin())) {
      return {false, kInf,
              absl::StrCat("output \"", a.outputs(i).name(), "\" changed type or shape")};
    }
    std::vector<double> x, y;
    if (!Values(a, i, &x) || !Values(b, j, &y) || x.size() != y.size()) {
      return {false, kInf, absl::StrCat("output \"", a.outputs(i).name(), "\" cannot be compared")};
    }
    const auto& out = a.outputs(i);
    const int64_t classes = out.shape_size() > 0 ? out.shape(out.shape_size() - 1) : 0;
    if ((out.datatype() == "FP32" || out.datatype() == "FP64") && classes >= 2 &&
        x.size() % static_cast<size_t>(classes) == 0) {
      CountTop1(x, y, static_cast<size_t>(classes), &v);
    }
    for (size_t e = 0; e < x.size(); ++e) {
      const double d = std::fabs(x[e] - y[e]);
      if (std::isnan(d) && !(std::isnan(x[e]) && std::isnan(y[e]))) {
        v.max_difference = kInf;
      } else if (d > v.max_difference) {
        v.max_difference = d;
      }
    }
  }
  if (a.outputs_size() != b.outputs_size()) {
    return {false, kInf, "different numbers of outputs"};
  }
  if (v.max_difference > tolerance) {
    v.match = false;
    v.detail = absl::StrCat("max |difference| ", v.max_difference, " > tolerance ", tolerance);
  }
  return v;
}

}  // namespace

MirrorVerdict CompareAnswers(absl::string_view method, const std::vector<std::string>& primary,
                             const std::vector<std::string>& shadow, double tolerance) {
  if (primary.size() != shadow.size()) {
    return {false, kInf,
            absl::StrCat(primary.size(), " primary answers, ", shadow.size(), " shadow answers")};
  }
  const bool infer = absl::EndsWith(method, "/ModelInfer");
  const bool stream = absl::EndsWith(method, "/ModelStreamInfer");
  MirrorVerdict all{true, 0, ""};
  for (size_t i = 0; i < primary.size(); ++i) {
    const bool same = primary[i] == shadow[i];
    if (same && !infer && !stream) continue;
    // Equal bytes still count their classifier rows as agreeing.
    MirrorVerdict v{same, same ? 0 : kInf, same ? "" : "answers differ"};
    if (infer) {
      inference::ModelInferResponse a, b;
      if (a.ParseFromString(primary[i]) && b.ParseFromString(shadow[i])) {
        v = CompareInfer(a, b, tolerance);
      }
    } else if (stream) {
      inference::ModelStreamInferResponse a, b;
      if (a.ParseFromString(primary[i]) && b.ParseFromString(shadow[i])) {
        v = a.error_message() != b.error_message()
                ? MirrorVerdict{false, kInf, "error_message differs"}
                : CompareInfer(a.infer_response(), b.infer_response(), tolerance);
      }
    }
    if (same) v = MirrorVerdict{true, 0, "", v.top1_agree, v.top1_disagree};
    all.top1_agree += v.top1_agree;
    all.top1_disagree += v.top1_disagree;
    all.max_difference = std::max(all.max_difference, v.max_difference);
    if (!v.match && all.match) {
      all.match = false;
      all.detail = absl::StrCat("answer ", i, ": ", v.detail);
    }
  }
  return all;
}

}  // namespace rollout::proxy
