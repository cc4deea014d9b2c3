// UringSender: the end-of-turn writes of a worker's plaintext connections, handed to the
// kernel in one io_uring_enter() instead of one sendmsg() each (issue 21's io_uring
// trial, `io_uring: true`). The writes are still nonblocking and synchronous: Send()
// returns when every one has completed, so the bytes they point at need only live until
// then, as with sendmsg().
//
//   UringSender sender;
//   if (sender.Init().ok()) {
//     UringSender::Write* w = sender.Next();   // fill w->msg for a socket
//     ...
//     sender.Send();                            // w->result: bytes, or -errno
//   }
//
// Thread-safety: none; one worker thread.
#ifndef ROLLOUT_PROXY_H2_URING_SENDER_H_
#define ROLLOUT_PROXY_H2_URING_SENDER_H_

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/status/status.h"

namespace rollout::proxy::h2 {

class UringSender final {
 public:
  static constexpr int kMaxIov = 64;
  struct Write {
    int fd = -1;
    void* owner = nullptr;
    msghdr msg{};
    iovec iov[kMaxIov];
    ssize_t result = 0;  // after Send(): bytes written, or -errno
  };

  UringSender();
  ~UringSender();
  UringSender(const UringSender&) = delete;
  UringSender& operator=(const UringSender&) = delete;

  // Sets up the ring; an error says why io_uring cannot be used here (an old kernel, or a
  // sandbox that forbids it).
  absl::Status Init();

  // A write slot for this batch, valid until the next Send().
  Write* Next();
  size_t pending() const { return used_; }
  Write& at(size_t i) { return *writes_[i]; }
  // Submits every pending write and waits for all of them. Afterwards at(0..pending()-1)
  // hold the results; Clear() starts the next batch.
  void Send();
  void Clear() { used_ = 0; }

 private:
  struct Ring;
  std::unique_ptr<Ring> ring_;
  std::vector<std::unique_ptr<Write>> writes_;  // slots; they do not move
  size_t used_ = 0;
};

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_URING_SENDER_H_
