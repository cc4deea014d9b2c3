// Calls any method by name with raw bytes, for routes whose methods no backend implements.
#ifndef ROLLOUT_TESTS_SUPPORT_GENERIC_CALL_H_
#define ROLLOUT_TESTS_SUPPORT_GENERIC_CALL_H_

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>
#include <string>

namespace rollout::testing {

// Sends `request_bytes` as the request message; the response's bytes go to `response_bytes`
// when it is not null.
inline grpc::Status CallGeneric(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& method, grpc::ClientContext* ctx,
                                const std::string& request_bytes = "hello",
                                std::string* response_bytes = nullptr) {
  grpc::GenericStub stub(channel);
  grpc::Slice slice(request_bytes.data(), request_bytes.size());
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(ctx, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (response_bytes != nullptr) {
    grpc::Slice all;
    response_bytes->clear();
    if (response.Valid() && response.DumpToSingleSlice(&all).ok()) {
      response_bytes->assign(reinterpret_cast<const char*>(all.begin()), all.size());
    }
  }
  return status;
}

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_GENERIC_CALL_H_
