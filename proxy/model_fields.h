// EncodeModelFields: a pool's model pin as protobuf bytes: field 1 (the model's name) and
// field 2 (its version) of the KServe v2 requests that name a model, each when set. The
// data plane appends them to each such request message (h2/model_rewriter.h); being last
// on the wire, they win over what the client sent.
//
// Thread-safety: a pure function.
#ifndef ROLLOUT_PROXY_MODEL_FIELDS_H_
#define ROLLOUT_PROXY_MODEL_FIELDS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace rollout::proxy {

// Whether the request messages of `method` (a :path) name a model in fields 1 and 2: the
// KServe v2 ModelInfer, ModelStreamInfer, ModelReady and ModelMetadata.
inline bool NamesModel(absl::string_view method) {
  constexpr absl::string_view kService = "/inference.GRPCInferenceService/";
  if (method.substr(0, kService.size()) != kService) return false;
  const absl::string_view name = method.substr(kService.size());
  return name == "ModelInfer" || name == "ModelStreamInfer" || name == "ModelReady" ||
         name == "ModelMetadata";
}

inline std::string EncodeModelFields(absl::string_view name, absl::string_view version) {
  std::string out;
  for (const auto& [tag, value] :
       {std::pair<char, absl::string_view>{0x0a, name}, {0x12, version}}) {
    if (value.empty()) continue;
    out.push_back(tag);  // field 1 or 2, length-delimited
    for (uint64_t v = value.size(); true; v >>= 7) {
      if (v < 0x80) {
        out.push_back(static_cast<char>(v));
        break;
      }
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    }
    out.append(value.data(), value.size());
  }
  return out;
}

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_MODEL_FIELDS_H_
