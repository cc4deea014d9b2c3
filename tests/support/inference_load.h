// InferenceLoad: steady ModelInfer calls (about 400/s) through a proxy, on a thread of its
// own, until destroyed; counts the answers by the pool that served them (the proxy's
// x-rollout-pool response header) and by success.
//
//   InferenceLoad load(proxy.address());
//   ... auto served = load.Take();  // served["v2"][true]: v2's good answers since last Take
//
// Thread-safety: Take() and Retarget() may be called from any one thread.
#ifndef ROLLOUT_TESTS_SUPPORT_INFERENCE_LOAD_H_
#define ROLLOUT_TESTS_SUPPORT_INFERENCE_LOAD_H_

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "inference/grpc_predict_v2.pb.h"
#include "tests/support/kserve_request.h"

namespace rollout::testing {

class InferenceLoad {
 public:
  // `force`: a pool to name in x-rollout-pool on every call ("" for none).
  explicit InferenceLoad(std::string target, std::string force = "",
                         inference::ModelInferRequest request = InferRequest());
  ~InferenceLoad();
  InferenceLoad(const InferenceLoad&) = delete;
  InferenceLoad& operator=(const InferenceLoad&) = delete;

  // Sends to another address from now on.
  void Retarget(std::string target);
  // Answers since the last call, by pool ("-" when the proxy named none) and success; resets.
  std::map<std::string, std::map<bool, int>> Take();

 private:
  void Stop();

  const std::string force_;
  const inference::ModelInferRequest request_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::map<bool, int>> served_;
};

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_INFERENCE_LOAD_H_
