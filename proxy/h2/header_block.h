// HeaderBlock: one HEADERS block (request headers, response headers or trailers) of a
// stream, kept in one buffer and handed to nghttp2 without another copy (NO_COPY name/value
// flags). The buffer and the field list are inline up to ByteBuffer::kInlineBytes and
// kInlineFields, so that a usual gRPC block costs no allocation
// (tests/proxy/h2/steady_allocations_test.cc); a larger one moves to the heap.
//
// Thread-safety: used by one thread.
#ifndef ROLLOUT_PROXY_H2_HEADER_BLOCK_H_
#define ROLLOUT_PROXY_H2_HEADER_BLOCK_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/string_view.h"
#include "proxy/h2/byte_buffer.h"

namespace rollout::proxy::h2 {

class HeaderBlock final {
 public:
  // A gRPC client's request headers are about 250 bytes in 8 to 10 fields.
  static constexpr size_t kInlineFields = 16;

  // Inline: nghttp2's header callback calls it for every field of every call.
  void Add(absl::string_view name, absl::string_view value) {
    const auto at = static_cast<uint32_t>(bytes_.size());
    char* to = bytes_.Extend(name.size() + value.size());
    if (!name.empty()) memcpy(to, name.data(), name.size());
    if (!value.empty()) memcpy(to + name.size(), value.data(), value.size());
    fields_.push_back(Field{at, static_cast<uint32_t>(name.size()),
                            at + static_cast<uint32_t>(name.size()),
                            static_cast<uint32_t>(value.size())});
  }
  // The first value of `name`.
  std::optional<absl::string_view> Get(absl::string_view name) const;
  size_t size() const { return fields_.size(); }
  size_t bytes() const { return bytes_.size(); }
  bool empty() const { return fields_.empty(); }
  // Calls fn(name, value) for every field, in order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const Field& f : fields_) {
      fn(absl::string_view(bytes_.data() + f.name, f.name_len),
         absl::string_view(bytes_.data() + f.value, f.value_len));
    }
  }
  // Appends every field to `nva`, pointing into this block: the block must outlive the
  // frame's sending and must not be added to meanwhile.
  void AppendTo(std::vector<nghttp2_nv>* nva) const;

 private:
  struct Field {
    uint32_t name, name_len, value, value_len;  // offsets into bytes_
  };
  ByteBuffer bytes_;
  absl::InlinedVector<Field, kInlineFields> fields_;
};

// A field that points at `name` and `value` without copying them.
inline nghttp2_nv MakeNv(absl::string_view name, absl::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_HEADER_BLOCK_H_
