#include "tests/support/inference_load.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "inference/grpc_predict_v2.grpc.pb.h"

namespace rollout::testing {

InferenceLoad::InferenceLoad(std::string target, std::string force,
                             inference::ModelInferRequest request)
    : force_(std::move(force)), request_(std::move(request)) {
  Retarget(std::move(target));
}

InferenceLoad::~InferenceLoad() { Stop(); }

void InferenceLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void InferenceLoad::Retarget(std::string target) {
  Stop();
  stop_ = false;
  thread_ = std::thread([this, target] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = inference::GRPCInferenceService::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    while (!stop_) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      if (!force_.empty()) ctx.AddMetadata("x-rollout-pool", force_);
      inference::ModelInferResponse response;
      grpc::Status s = stub->ModelInfer(&ctx, request_, &response);
      auto it = ctx.GetServerInitialMetadata().find("x-rollout-pool");
      std::string pool = it == ctx.GetServerInitialMetadata().end()
                             ? "-"
                             : std::string(it->second.data(), it->second.size());
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++served_[pool][s.ok()];
      }
      std::this_thread::sleep_for(std::chrono::microseconds(2500));
    }
  });
}

std::map<std::string, std::map<bool, int>> InferenceLoad::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  auto out = std::move(served_);
  served_.clear();
  return out;
}

}  // namespace rollout::testing
