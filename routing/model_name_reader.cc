#include "routing/model_name_reader.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rollout::routing {
namespace {

// Reads a base-128 varint at bytes[*pos]; at most 10 bytes.
bool ReadVarint(absl::string_view bytes, size_t* pos, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= bytes.size()) return false;
    const uint8_t b = static_cast<uint8_t>(bytes[(*pos)++]);
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;  // more than 10 bytes
}

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed request message: cannot read model_name (field 1): ", why));
}

}  // namespace

absl::StatusOr<absl::string_view> ReadModelName(absl::string_view bytes, bool complete) {
  if (bytes.empty()) return absl::string_view();  // an empty message: no fields at all
  size_t pos = 0;
  uint64_t tag = 0;
  if (!ReadVarint(bytes, &pos, &tag)) return Malformed("truncated or overlong field tag");
  const uint64_t field = tag >> 3;
  const uint64_t wire_type = tag & 7;
  if (field == 0) return Malformed("field number 0");
  if (field != 1) return absl::string_view();  // fields come in order: no model_name
  if (wire_type != 2)
    return Malformed(absl::StrCat("field 1 has wire type ", wire_type, ", not length-delimited"));
  uint64_t length = 0;
  if (!ReadVarint(bytes, &pos, &length)) return Malformed("truncated length");
  if (length > kMaxModelNameBytes) {
    return Malformed(absl::StrCat("model_name is ", length, " bytes; at most ", kMaxModelNameBytes,
                                  " are accepted"));
  }
  if (length > bytes.size() - pos) {
    return Malformed(complete ? "model_name runs past the end of the message"
                              : "model_name runs past the bytes read");
  }
  return bytes.substr(pos, static_cast<size_t>(length));
}

}  // namespace rollout::routing
