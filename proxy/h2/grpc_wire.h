// What the nghttp2 data plane needs to know of gRPC's wire format on HTTP/2: the 5-byte
// message prefix, grpc-message percent-encoding, grpc-status parsing, and the mapping of
// RST_STREAM codes to gRPC status codes. Messages themselves are never parsed.
//
// Thread-safety: pure functions; MessageSizeGuard is used by one thread.
#ifndef ROLLOUT_PROXY_H2_GRPC_WIRE_H_
#define ROLLOUT_PROXY_H2_GRPC_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace rollout::proxy::h2 {

constexpr size_t kMessagePrefixBytes = 5;  // compressed flag + 4-byte big-endian length

// The length in a message prefix (at least kMessagePrefixBytes at `p`).
inline uint32_t MessageLength(const uint8_t* p) {
  return (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
}

// Percent-encodes a grpc-message value as the gRPC HTTP/2 spec says (bytes outside
// 0x20..0x7e, and '%').
std::string PercentEncode(absl::string_view message);

// Whether a binary (-bin) metadata value is base64 as gRPC sends it: the standard alphabet,
// with or without its padding.
bool IsBase64HeaderValue(absl::string_view value);

// A grpc-timeout value ("100m": up to 8 digits, then H, M, S, m, u or n) in nanoseconds, or
// nullopt if it is not one.
std::optional<int64_t> ParseGrpcTimeoutNs(absl::string_view value);

// The code in a grpc-status value, or nullopt if it is not a number 0..16.
std::optional<int> ParseGrpcStatus(absl::string_view value);

// The gRPC code a client sees for a stream reset with HTTP/2 error `error_code`.
int StatusForResetCode(uint32_t error_code);

// MessageStarts: where gRPC messages begin in one direction of a stream, as its DATA arrives
// in chunks of any size. Nothing is copied or decoded: only the length prefixes are read.
class MessageStarts final {
 public:
  // How many messages begin in `data` (the first byte of their prefix is in it). When
  // `longest` is set, it gets the largest length a prefix completed in `data` declares.
  size_t Feed(const uint8_t* data, size_t size, uint64_t* longest = nullptr);

 private:
  uint64_t body_left_ = 0;  // bytes of the current message still to come
  uint8_t prefix_[kMessagePrefixBytes];
  size_t prefix_have_ = 0;
};

// Watches the messages of one direction of a stream go by, across DATA frames, and says
// when one declares a length over the limit.
class MessageSizeGuard final {
 public:
  explicit MessageSizeGuard(int64_t max_bytes) : max_(max_bytes) {}
  bool limited() const { return max_ >= 0; }
  // False once a message prefix in `data` declares more than max_bytes.
  bool Feed(const uint8_t* data, size_t size) {
    uint64_t longest = 0;
    prefixes_.Feed(data, size, &longest);
    return static_cast<int64_t>(longest) <= max_;
  }
  int64_t max() const { return max_; }

 private:
  int64_t max_;
  MessageStarts prefixes_;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_GRPC_WIRE_H_
