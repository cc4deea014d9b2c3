#include "proxy/h2/uring_sender.h"

#include <errno.h>
#include <liburing.h>
#include <string.h>

#include "absl/strings/str_cat.h"

namespace rollout::proxy::h2 {
namespace {
constexpr unsigned kEntries = 256;
}  // namespace

struct UringSender::Ring {
  io_uring ring{};
  bool ready = false;
  ~Ring() {
    if (ready) io_uring_queue_exit(&ring);
  }
};

UringSender::UringSender() : ring_(std::make_unique<Ring>()) {}
UringSender::~UringSender() = default;

absl::Status UringSender::Init() {
  // One thread submits and reaps, and completions are only wanted inside io_uring_enter:
  // the cheapest setup the kernel offers (6.1+); older kernels get the plain one.
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int rc = io_uring_queue_init_params(kEntries, &ring_->ring, &params);
  if (rc == -EINVAL) {
    params = io_uring_params{};
    rc = io_uring_queue_init_params(kEntries, &ring_->ring, &params);
  }
  if (rc < 0) return absl::UnavailableError(absl::StrCat("io_uring_setup: ", strerror(-rc)));
  ring_->ready = true;
  return absl::OkStatus();
}

UringSender::Write* UringSender::Next() {
  if (used_ == writes_.size()) writes_.push_back(std::make_unique<Write>());
  Write* w = writes_[used_++].get();
  w->msg = msghdr{};
  w->msg.msg_iov = w->iov;
  w->result = 0;
  return w;
}

void UringSender::Send() {
  io_uring* ring = &ring_->ring;
  size_t submitted = 0;
  while (submitted < used_) {
    // As many as the ring holds at once.
    size_t batch = 0;
    while (submitted + batch < used_) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      if (sqe == nullptr) break;
      Write* w = writes_[submitted + batch].get();
      if (w->msg.msg_iovlen == 0) {
        io_uring_prep_nop(sqe);  // nothing to write (a connection closed meanwhile)
      } else {
        io_uring_prep_sendmsg(sqe, w->fd, &w->msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      io_uring_sqe_set_data64(sqe, submitted + batch);
      ++batch;
    }
    int rc;
    do {
      rc = io_uring_submit_and_wait(ring, static_cast<unsigned>(batch));
    } while (rc == -EINTR);
    size_t reaped = 0;
    while (reaped < batch) {
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_wait_cqe(ring, &cqe);
      if (rc == -EINTR) continue;
      if (rc < 0) {  // the ring itself failed: every write left says so
        for (size_t i = submitted + reaped; i < submitted + batch; ++i) writes_[i]->result = rc;
        break;
      }
      writes_[io_uring_cqe_get_data64(cqe)]->result = cqe->res;
      io_uring_cqe_seen(ring, cqe);
      ++reaped;
    }
    submitted += batch;
  }
}

}  // namespace rollout::proxy::h2
