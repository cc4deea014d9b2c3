#include "proxy/h2/header_block.h"

namespace rollout::proxy::h2 {

std::optional<absl::string_view> HeaderBlock::Get(absl::string_view name) const {
  for (const Field& f : fields_) {
    if (absl::string_view(bytes_.data() + f.name, f.name_len) == name) {
      return absl::string_view(bytes_.data() + f.value, f.value_len);
    }
  }
  return std::nullopt;
}

void HeaderBlock::AppendTo(std::vector<nghttp2_nv>* nva) const {
  for (const Field& f : fields_) {
    nva->push_back(MakeNv(absl::string_view(bytes_.data() + f.name, f.name_len),
                          absl::string_view(bytes_.data() + f.value, f.value_len)));
  }
}

}  // namespace rollout::proxy::h2
