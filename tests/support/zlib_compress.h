// Compress: bytes as gRPC compresses a message: "gzip" (RFC 1952) or "deflate" (the zlib
// format, RFC 1950), for tests of compressed calls.
#ifndef ROLLOUT_TESTS_SUPPORT_ZLIB_COMPRESS_H_
#define ROLLOUT_TESTS_SUPPORT_ZLIB_COMPRESS_H_

#include <zlib.h>

#include <string>

namespace rollout::testing {

inline std::string Compress(const std::string& plain, bool gzip) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzip ? 16 + MAX_WBITS : MAX_WBITS, 8,
               Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, plain.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_ZLIB_COMPRESS_H_
