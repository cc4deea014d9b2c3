#include "proxy/h2/pipe.h"

#include <algorithm>

#include "proxy/h2/connection.h"

namespace rollout::proxy::h2 {

void Pipe::Push(const uint8_t* data, size_t size) {
  source_in_ += size;
  Append(data, size);
}

void Pipe::PushLocal(const uint8_t* data, size_t size) { Append(data, size); }

std::string Pipe::TakeUnsent() {
  std::string out(buf_.data() + off_, buf_.size() - off_);
  source_in_ -= std::min<uint64_t>(out.size(), source_in_ - released_);
  buf_.Clear();
  off_ = 0;
  return out;
}

bool Pipe::pinned() const {
  return pinned_epoch_ != 0 && sink_ != nullptr && pinned_epoch_ == sink_->output_epoch() + 1;
}

void Pipe::Unpin() {
  if (pinned_epoch_ == 0) return;
  if (!pinned()) {  // that flush is over: nothing of ours is referenced any more
    pinned_epoch_ = 0;
    return;
  }
  ByteBuffer rest;
  rest.Append(buf_.data() + off_, buf_.size() - off_);
  sink_->AdoptOutput(std::move(buf_));
  buf_ = std::move(rest);
  off_ = 0;
  pinned_epoch_ = 0;
}

void Pipe::Append(const uint8_t* data, size_t size) {
  Unpin();  // appends come from reads, after the sink's flush, so this only clears the mark
  // What was sent is reclaimed here rather than in Send(): the sink may still be writing
  // it from this buffer until its flush ends.
  if (off_ > 0 && off_ == buf_.size()) {
    buf_.Clear();
    off_ = 0;
  } else if (off_ > (1u << 16) && off_ * 2 > buf_.size()) {
    buf_.EraseFront(off_);
    off_ = 0;
  }
  buf_.Append(data, size);
  if (deferred_ && sink_ != nullptr) {
    deferred_ = false;
    nghttp2_session_resume_data(sink_->session(), sink_stream_);
    sink_->MarkDirty();
  }
}

void Pipe::End() {
  eof_ = true;
  if (deferred_ && sink_ != nullptr) {
    deferred_ = false;
    nghttp2_session_resume_data(sink_->session(), sink_stream_);
    sink_->MarkDirty();
  }
}

ssize_t Pipe::Read(size_t length, uint32_t* data_flags) {
  const size_t n = std::min(length, queued());
  if (n == 0 && !eof_) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (n > 0) *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (eof_ && n == queued()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int Pipe::Send(const uint8_t* framehd, size_t length) {
  if (!sink_->HasRoomForOutput()) return NGHTTP2_ERR_WOULDBLOCK;
  sink_->AppendOutput(framehd, 9);
  if (sink_->AppendPayload(data(), length)) pinned_epoch_ = sink_->output_epoch() + 1;
  off_ += length;
  taken_ += length;
  // The source's bytes among those sent so far; the proxy's own hold no window.
  const uint64_t sent = std::min(taken_, source_in_);
  if (sent > released_) Release(sent - released_);
  return 0;
}

void Pipe::Discard() {
  buf_.Clear();
  off_ = 0;
  Release(source_in_ - released_);
}

void Pipe::Release(size_t n) {
  released_ += n;
  if (src_ == nullptr || n == 0) return;
  // Counts for the connection even once the stream is closed.
  nghttp2_session_consume(src_->session(), src_stream_, n);
  src_->MarkDirty();
}

}  // namespace rollout::proxy::h2
