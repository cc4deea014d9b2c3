#include "proxy/h2/model_rewriter.h"

#include <algorithm>

namespace rollout::proxy::h2 {

bool ModelRewriter::Feed(const uint8_t* data, size_t size, Pipe* out, std::string* error) {
  auto client = [&](const uint8_t* p, size_t n) { out->Push(p, n); };
  while (size > 0) {
    if (in_body_) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(body_left_, size));
      client(data, n);
      data += n;
      size -= n;
      body_left_ -= n;
      if (body_left_ > 0) return true;
      in_body_ = false;
      out->PushLocal(reinterpret_cast<const uint8_t*>(fields_.data()), fields_.size());
      continue;
    }
    const size_t n = std::min(kMessagePrefixBytes - prefix_have_, size);
    std::copy_n(data, n, prefix_ + prefix_have_);
    prefix_have_ += n;
    data += n;
    size -= n;
    if (prefix_have_ < kMessagePrefixBytes) return true;
    prefix_have_ = 0;
    if (prefix_[0] != 0) {
      *error =
          "a compressed request message (its pool rewrites the model, which needs "
          "uncompressed messages; send with grpc-encoding identity)";
      return false;
    }
    body_left_ = MessageLength(prefix_);
    const uint64_t grown = body_left_ + fields_.size();
    if (grown > 0xffffffffu) {
      *error = "a request message too large to rewrite the model in";
      return false;
    }
    uint8_t prefix[kMessagePrefixBytes] = {
        0, static_cast<uint8_t>(grown >> 24), static_cast<uint8_t>(grown >> 16),
        static_cast<uint8_t>(grown >> 8), static_cast<uint8_t>(grown)};
    client(prefix, sizeof(prefix));  // the client's 5 bytes, rewritten
    in_body_ = true;
    if (body_left_ == 0) {  // an empty message: the fields are all of it
      in_body_ = false;
      out->PushLocal(reinterpret_cast<const uint8_t*>(fields_.data()), fields_.size());
    }
  }
  return true;
}

}  // namespace rollout::proxy::h2
