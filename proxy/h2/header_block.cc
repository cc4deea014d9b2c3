#include "proxy/h2/header_block.h"

namespace rollout::proxy::h2 {

void HeaderBlock::Add(absl::string_view name, absl::string_view value) {
  const auto at = static_cast<uint32_t>(bytes_.size());
  bytes_.Append(name.data(), name.size());
  bytes_.Append(value.data(), value.size());
  fields_.push_back(Field{at, static_cast<uint32_t>(name.size()),
                          at + static_cast<uint32_t>(name.size()),
                          static_cast<uint32_t>(value.size())});
}

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
