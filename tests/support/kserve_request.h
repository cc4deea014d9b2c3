// A KServe v2 ModelInferRequest for demo-model-server's classifier: one [1, 4] FP32 input
// named "input", given as typed contents.
#ifndef ROLLOUT_TESTS_SUPPORT_KSERVE_REQUEST_H_
#define ROLLOUT_TESTS_SUPPORT_KSERVE_REQUEST_H_

#include <array>
#include <string>

#include "inference/grpc_predict_v2.pb.h"

namespace rollout::testing {

inline inference::ModelInferRequest InferRequest(const std::string& model = "classifier",
                                                 const std::array<float, 4>& features = {
                                                     1.0f, 2.0f, 3.0f, 4.0f}) {
  inference::ModelInferRequest r;
  r.set_model_name(model);
  auto* in = r.add_inputs();
  in->set_name("input");
  in->set_datatype("FP32");
  in->add_shape(1);
  in->add_shape(4);
  for (float v : features) in->mutable_contents()->add_fp32_contents(v);
  return r;
}

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_KSERVE_REQUEST_H_
