// ModelRewriter: pins the model a pool serves, on the wire, for several versions of one
// model behind the same servers (pools: - { name: v2, model_name: clf, model_version: "2" }).
//
// For the KServe v2 calls that name a model (NamesModel in proxy/model_fields.h), every request
// message gets the pool's fields appended: `0x0a len name` and `0x12 len version`, and its
// length prefix grows by as much. A protobuf parser keeps the last value of a singular
// field it sees, so the backend reads the pool's model and version whatever the client
// sent, and nothing else of the message is decoded, moved or copied: the payload streams
// through as it arrives, in constant memory. A compressed message (its flag set) cannot be
// appended to; it is refused, and the call fails with UNIMPLEMENTED naming the pool.
//
//   ModelRewriter rewrite(EncodeModelFields("clf", "2"));  // proxy/model_fields.h
//   if (!rewrite.Feed(data, size, &pipe, &error)) Fail(error);
//
// Thread-safety: used by one thread.
#ifndef ROLLOUT_PROXY_H2_MODEL_REWRITER_H_
#define ROLLOUT_PROXY_H2_MODEL_REWRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "proxy/h2/grpc_wire.h"
#include "proxy/h2/pipe.h"

namespace rollout::proxy::h2 {

class ModelRewriter final {
 public:
  explicit ModelRewriter(std::string fields) : fields_(std::move(fields)) {}

  // The next request bytes: pushed into `out` rewritten (the client's bytes with Push, the
  // appended fields with PushLocal). False, with `error` set, on a compressed message.
  bool Feed(const uint8_t* data, size_t size, Pipe* out, std::string* error);

 private:
  const std::string fields_;
  uint8_t prefix_[kMessagePrefixBytes] = {};
  size_t prefix_have_ = 0;
  uint64_t body_left_ = 0;  // payload bytes of the current message still to come
  bool in_body_ = false;
};

// Request bytes into `out`: through `rewriter` when the pool pins its model, else as they
// are. False, with `error` set, when the rewriter refuses them.
inline bool PushRequestBytes(ModelRewriter* rewriter, const uint8_t* data, size_t size, Pipe* out,
                             std::string* error) {
  if (rewriter == nullptr) {
    out->Push(data, size);
    return true;
  }
  return rewriter->Feed(data, size, out, error);
}

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_MODEL_REWRITER_H_
