#include "proxy/h2/message_inflater.h"

#include <zlib.h>

namespace rollout::proxy::h2 {

InflateResult InflatePrefix(absl::string_view encoding, absl::string_view compressed, bool all_in,
                            size_t max_out, std::string* out, bool* complete) {
  int window_bits;
  if (encoding == "gzip") {
    window_bits = 16 + MAX_WBITS;
  } else if (encoding == "deflate") {
    window_bits = MAX_WBITS;
  } else {
    return InflateResult::kUnsupported;
  }
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return InflateResult::kCorrupt;
  out->resize(max_out);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data());
  z.avail_out = static_cast<uInt>(max_out);
  int rc = Z_OK;
  while (rc == Z_OK && z.avail_out > 0 && z.avail_in > 0) rc = inflate(&z, Z_NO_FLUSH);
  const size_t produced = max_out - z.avail_out;
  inflateEnd(&z);
  out->resize(produced);
  *complete = rc == Z_STREAM_END;
  if (rc == Z_STREAM_END || produced == max_out) return InflateResult::kOk;
  if (rc != Z_OK && rc != Z_BUF_ERROR) return InflateResult::kCorrupt;
  return all_in ? InflateResult::kCorrupt : InflateResult::kNeedMore;  // cut short if all in
}

}  // namespace rollout::proxy::h2
