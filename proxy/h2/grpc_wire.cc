#include "proxy/h2/grpc_wire.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <limits>

#include "absl/strings/numbers.h"

namespace rollout::proxy::h2 {

std::string PercentEncode(absl::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool IsBase64HeaderValue(absl::string_view value) {
  size_t n = value.size();
  if (n % 4 == 0) {
    for (int pad = 0; pad < 2 && n > 0 && value[n - 1] == '='; ++pad) --n;
  }
  if (n % 4 == 1) return false;  // no base64 text has this length
  for (size_t i = 0; i < n; ++i) {
    const char c = value[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

std::optional<int64_t> ParseGrpcTimeoutNs(absl::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  int64_t unit_ns;
  switch (value.back()) {
    case 'H':
      unit_ns = int64_t{3600} * 1000000000;
      break;
    case 'M':
      unit_ns = int64_t{60} * 1000000000;
      break;
    case 'S':
      unit_ns = 1000000000;
      break;
    case 'm':
      unit_ns = 1000000;
      break;
    case 'u':
      unit_ns = 1000;
      break;
    case 'n':
      unit_ns = 1;
      break;
    default:
      return std::nullopt;
  }
  // 99999999H is past what nanoseconds hold: as good as no deadline.
  if (n > std::numeric_limits<int64_t>::max() / unit_ns) return std::numeric_limits<int64_t>::max();
  return n * unit_ns;
}

std::optional<int> ParseGrpcStatus(absl::string_view value) {
  int code;
  if (!absl::SimpleAtoi(value, &code) || code < 0 || code > 16) return std::nullopt;
  return code;
}

int StatusForResetCode(uint32_t error_code) {
  switch (error_code) {
    case NGHTTP2_NO_ERROR:
    case NGHTTP2_PROTOCOL_ERROR:
    case NGHTTP2_INTERNAL_ERROR:
    case NGHTTP2_FLOW_CONTROL_ERROR:
    case NGHTTP2_SETTINGS_TIMEOUT:
    case NGHTTP2_FRAME_SIZE_ERROR:
    case NGHTTP2_COMPRESSION_ERROR:
    case NGHTTP2_CONNECT_ERROR:
      return 13;  // INTERNAL
    case NGHTTP2_REFUSED_STREAM:
      return 14;  // UNAVAILABLE
    case NGHTTP2_CANCEL:
      return 1;  // CANCELLED
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return 8;  // RESOURCE_EXHAUSTED
    case NGHTTP2_INADEQUATE_SECURITY:
      return 7;  // PERMISSION_DENIED
    default:
      return 2;  // UNKNOWN
  }
}

size_t MessageStarts::Feed(const uint8_t* data, size_t size, uint64_t* longest) {
  size_t starts = 0;
  while (size > 0) {
    if (body_left_ > 0) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, size));
      body_left_ -= take;
      data += take;
      size -= take;
      continue;
    }
    if (prefix_have_ == 0) ++starts;
    prefix_[prefix_have_++] = *data++;
    --size;
    if (prefix_have_ == kMessagePrefixBytes) {
      prefix_have_ = 0;
      body_left_ = MessageLength(prefix_);
      if (longest != nullptr) *longest = std::max(*longest, body_left_);
    }
  }
  return starts;
}

}  // namespace rollout::proxy::h2
