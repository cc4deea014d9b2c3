#include "proxy/h2/message_splitter.h"

#include <algorithm>

namespace rollout::proxy::h2 {

void MessageSplitter::Append(const uint8_t* data, size_t size) {
  while (size > 0) {
    if (!in_payload_) {
      const size_t take = std::min(size, sizeof(prefix_) - prefix_len_);
      std::copy(data, data + take, prefix_ + prefix_len_);
      prefix_len_ += take;
      data += take;
      size -= take;
      if (prefix_len_ < sizeof(prefix_)) return;
      prefix_len_ = 0;
      remaining_ = (uint64_t{prefix_[1]} << 24) | (uint64_t{prefix_[2]} << 16) |
                   (uint64_t{prefix_[3]} << 8) | prefix_[4];
      in_payload_ = true;
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(size, remaining_));
    const bool kept = keep_ && messages_.size() < max_messages_;
    if (kept) {
      current_.append(reinterpret_cast<const char*>(data), take);
      held_ += take;
    }
    data += take;
    size -= take;
    remaining_ -= take;
    if (remaining_ == 0) {
      in_payload_ = false;
      ++count_;
      if (kept) messages_.push_back(std::move(current_));
      current_.clear();
    }
  }
}

void MessageSplitter::Clear() {
  keep_ = false;
  messages_.clear();
  messages_.shrink_to_fit();
  current_.clear();
  current_.shrink_to_fit();
  held_ = 0;
}

}  // namespace rollout::proxy::h2
