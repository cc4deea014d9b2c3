// MessageSplitter: cuts one direction of a gRPC stream (length-prefixed messages, as they
// arrive in DATA frames of any size) back into messages, keeping the first `max_messages`
// payloads (without their 5-byte prefixes) for a mirror's comparison. Later messages are
// counted and skipped.
//
//   MessageSplitter answers(64);
//   answers.Append(data, size);          // per DATA chunk
//   answers.messages();                  // the complete messages so far
//
// Thread-safety: used by one thread.
#ifndef ROLLOUT_PROXY_H2_MESSAGE_SPLITTER_H_
#define ROLLOUT_PROXY_H2_MESSAGE_SPLITTER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rollout::proxy::h2 {

class MessageSplitter final {
 public:
  explicit MessageSplitter(size_t max_messages) : max_messages_(max_messages) {}

  void Append(const uint8_t* data, size_t size);
  // Frees what is kept; what follows is skipped.
  void Clear();

  const std::vector<std::string>& messages() const { return messages_; }
  // Messages seen whole, kept or not.
  uint64_t count() const { return count_; }
  // Bytes kept: the messages and the one under way.
  size_t held_bytes() const { return held_; }

 private:
  const size_t max_messages_;
  std::vector<std::string> messages_;
  std::string current_;  // the payload under way (when kept)
  uint8_t prefix_[5] = {};
  size_t prefix_len_ = 0;
  uint64_t remaining_ = 0;  // payload bytes of the current message still to come
  bool in_payload_ = false;
  bool keep_ = true;
  uint64_t count_ = 0;
  size_t held_ = 0;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_MESSAGE_SPLITTER_H_
