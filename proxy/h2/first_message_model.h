// ReadFirstMessageModel: ModelInferRequest.model_name from the start of a call's request
// body as it arrives (gRPC messages, each behind its 5-byte prefix), for the routes that
// match on `model`. Only the first fields' bytes are read; a compressed first message
// (grpc-encoding gzip or deflate) is inflated only as far as model_name needs
// (InflatePrefix). The body itself is never changed.
//
//   absl::StatusOr<std::optional<absl::string_view>> model =
//       ReadFirstMessageModel(queued_bytes, ended, encoding, &scratch);
//   !model.ok(): refuse the call with that status; !model->has_value(): wait for more.
//
// Thread-safety: a pure function.
#ifndef ROLLOUT_PROXY_H2_FIRST_MESSAGE_MODEL_H_
#define ROLLOUT_PROXY_H2_FIRST_MESSAGE_MODEL_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rollout::proxy::h2 {

// How much of a compressed first message (compressed bytes) the proxy holds back at most to
// find model_name in it.
inline constexpr size_t kMaxCompressedModelPrefix = 64 * 1024;

// `body`: the request's bytes so far, from its start; `ended`: the client has sent all of
// them. The model (empty if the client sent no message), pointing into `body` or
// `*scratch`; nullopt while more bytes are needed; INVALID_ARGUMENT or UNIMPLEMENTED (an
// encoding it cannot read) naming what is wrong.
absl::StatusOr<std::optional<absl::string_view>> ReadFirstMessageModel(absl::string_view body,
                                                                       bool ended,
                                                                       absl::string_view encoding,
                                                                       std::string* scratch);

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_FIRST_MESSAGE_MODEL_H_
