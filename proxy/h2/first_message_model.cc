#include "proxy/h2/first_message_model.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "proxy/h2/grpc_wire.h"
#include "proxy/h2/message_inflater.h"
#include "routing/model_name_reader.h"

namespace rollout::proxy::h2 {
namespace {

using Result = absl::StatusOr<std::optional<absl::string_view>>;

Result ModelIn(absl::string_view bytes, bool complete) {
  absl::StatusOr<absl::string_view> model = routing::ReadModelName(bytes, complete);
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("rollout-proxy: ", model.status().message()));
  }
  return std::optional<absl::string_view>(*model);
}

Result CompressedModelIn(absl::string_view bytes, bool all_in, bool ended,
                         absl::string_view encoding, std::string* scratch) {
  bool complete = false;
  switch (
      InflatePrefix(encoding, bytes, all_in, routing::kModelNamePrefixBytes, scratch, &complete)) {
    case InflateResult::kOk:
      return ModelIn(*scratch, complete);
    case InflateResult::kNeedMore:
      if (!ended && bytes.size() < kMaxCompressedModelPrefix) return std::nullopt;
      return absl::InvalidArgumentError(
          ended ? "rollout-proxy: the request ends inside its first (compressed) message"
                : absl::StrCat("rollout-proxy: the first ", kMaxCompressedModelPrefix,
                               " compressed bytes of the first message do not reach past its "
                               "model_name"));
    case InflateResult::kUnsupported:
      return absl::UnimplementedError(
          absl::StrCat("rollout-proxy: the route depends on the model, and a message in "
                       "grpc-encoding \"",
                       encoding, "\" cannot be read (gzip and deflate can)"));
    case InflateResult::kCorrupt:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("rollout-proxy: the first message is not valid ", encoding, " data"));
}

}  // namespace

Result ReadFirstMessageModel(absl::string_view body, bool ended, absl::string_view encoding,
                             std::string* scratch) {
  if (body.size() < kMessagePrefixBytes) {
    if (!ended) return std::nullopt;
    if (!body.empty()) {
      return absl::InvalidArgumentError(
          "rollout-proxy: the request ends inside a message's length prefix");
    }
    return std::optional<absl::string_view>(absl::string_view());  // no message at all
  }
  const auto* prefix = reinterpret_cast<const uint8_t*>(body.data());
  const uint32_t length = MessageLength(prefix);
  const bool compressed = (prefix[0] & 1) != 0;
  const size_t need =
      compressed ? length : std::min<size_t>(length, routing::kModelNamePrefixBytes);
  const size_t got = std::min(need, body.size() - kMessagePrefixBytes);
  const absl::string_view bytes = body.substr(kMessagePrefixBytes, got);
  if (compressed) return CompressedModelIn(bytes, got == length, ended, encoding, scratch);
  if (got < need) {
    if (!ended) return std::nullopt;
    return absl::InvalidArgumentError(
        absl::StrCat("rollout-proxy: the request ends inside its first message (", got, " of ",
                     length, " bytes)"));
  }
  return ModelIn(bytes, /*complete=*/got == length);
}

}  // namespace rollout::proxy::h2
