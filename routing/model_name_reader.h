// Reads ModelInferRequest.model_name (field 1, a string) from the first bytes of a
// serialized message, without parsing the message.
//
// Protobuf encoders write fields in field-number order, so model_name, when present, is
// the first field: the reader looks at the first field only. If that field is not field 1,
// the message has no model_name (an empty result). Every read is bounds-checked: a
// truncated varint, a length past the end of the bytes, or field 1 with a wire type other
// than length-delimited is INVALID_ARGUMENT, never an over-read.
//
//   absl::StatusOr<absl::string_view> model = ReadModelName(first_bytes);
//
// Thread-safety: a pure function. The result points into `bytes`.
#ifndef ROLLOUT_ROUTING_MODEL_NAME_READER_H_
#define ROLLOUT_ROUTING_MODEL_NAME_READER_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rollout::routing {

inline constexpr size_t kMaxModelNameBytes = 1024;
// Bytes a caller must provide (when the message is that long) for any valid model_name:
// a tag (1 byte), a length varint (at most 2 bytes for 1024) and the name.
inline constexpr size_t kModelNamePrefixBytes = 1 + 2 + kMaxModelNameBytes;

// `bytes` is the start of the message (at most kModelNamePrefixBytes of it suffice);
// `complete` says whether `bytes` is the whole message, so that "ends early" can be told
// apart from "was cut here".
absl::StatusOr<absl::string_view> ReadModelName(absl::string_view bytes, bool complete);

}  // namespace rollout::routing

#endif  // ROLLOUT_ROUTING_MODEL_NAME_READER_H_
