#include "tests/support/raw_h2_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "absl/time/clock.h"

namespace rollout::testing {
namespace {

// An HPACK integer with an `prefix_bits`-bit prefix; `first` holds the pattern bits.
std::string HpackInt(uint8_t first, int prefix_bits, size_t value) {
  const size_t max = (size_t{1} << prefix_bits) - 1;
  std::string out;
  if (value < max) {
    out.push_back(static_cast<char>(first | value));
    return out;
  }
  out.push_back(static_cast<char>(first | max));
  value -= max;
  while (value >= 128) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

std::string HpackString(const std::string& s) { return HpackInt(0, 7, s.size()) + s; }

}  // namespace

RawH2Client::RawH2Client(int port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (receive_buffer > 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  nghttp2_hd_inflate_new(&inflater_);
}

RawH2Client::~RawH2Client() {
  nghttp2_hd_inflate_del(inflater_);
  if (fd_ >= 0) ::close(fd_);
}

std::string RawH2Client::Preface() {
  return std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + Frame(NGHTTP2_SETTINGS, 0, 0, "");
}

std::string RawH2Client::Frame(uint8_t type, uint8_t flags, int32_t stream,
                               const std::string& payload) {
  const size_t n = payload.size();
  std::string out = {static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8),
                     static_cast<char>(n),
                     static_cast<char>(type),
                     static_cast<char>(flags),
                     static_cast<char>((stream >> 24) & 0x7f),
                     static_cast<char>(stream >> 16),
                     static_cast<char>(stream >> 8),
                     static_cast<char>(stream)};
  return out + payload;
}

std::string RawH2Client::Literal(const std::string& name, const std::string& value) {
  return std::string(1, '\0') + HpackString(name) + HpackString(value);
}

std::string RawH2Client::IndexedLiteral(const std::string& name, const std::string& value) {
  return std::string(1, '\x40') + HpackString(name) + HpackString(value);
}

std::string RawH2Client::GrpcRequest(const std::string& path, const Fields& extra) {
  std::string block = Literal(":method", "POST") + Literal(":scheme", "http") +
                      Literal(":path", path) + Literal(":authority", "127.0.0.1") +
                      Literal("content-type", "application/grpc") + Literal("te", "trailers");
  for (const auto& [name, value] : extra) block += Literal(name, value);
  return block;
}

std::string RawH2Client::Headers(int32_t stream, const std::string& block, bool end_stream,
                                 bool end_headers) {
  const uint8_t flags =
      (end_stream ? NGHTTP2_FLAG_END_STREAM : 0) | (end_headers ? NGHTTP2_FLAG_END_HEADERS : 0);
  return Frame(NGHTTP2_HEADERS, flags, stream, block);
}

std::string RawH2Client::Continuation(int32_t stream, const std::string& block, bool end_headers) {
  return Frame(NGHTTP2_CONTINUATION, end_headers ? NGHTTP2_FLAG_END_HEADERS : 0, stream, block);
}

std::string RawH2Client::Data(int32_t stream, const std::string& payload, bool end_stream) {
  return Frame(NGHTTP2_DATA, end_stream ? NGHTTP2_FLAG_END_STREAM : 0, stream, payload);
}

std::string RawH2Client::RstStream(int32_t stream, uint32_t code) {
  const std::string payload = {static_cast<char>(code >> 24), static_cast<char>(code >> 16),
                               static_cast<char>(code >> 8), static_cast<char>(code)};
  return Frame(NGHTTP2_RST_STREAM, 0, stream, payload);
}

std::string RawH2Client::Ping() { return Frame(NGHTTP2_PING, 0, 0, std::string(8, '\0')); }

std::string RawH2Client::GrpcMessage(const std::string& payload) {
  const size_t n = payload.size();
  return std::string{0, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)} +
         payload;
}

bool RawH2Client::Send(const std::string& bytes) {
  if (bytes.rfind("PRI * HTTP/2.0", 0) == 0) preface_sent_ = true;
  size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    at += static_cast<size_t>(n);
  }
  return true;
}

RawH2Client::Stream RawH2Client::Wait(int32_t stream, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (!streams_[stream].ended && !peer_closed_ && absl::Now() < end) {
    ReadOnce(absl::Milliseconds(50));
  }
  return streams_[stream];
}

bool RawH2Client::WaitForClose(absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (!peer_closed_ && absl::Now() < end) ReadOnce(absl::Milliseconds(50));
  return peer_closed_;
}

void RawH2Client::Pump(absl::Duration wait) {
  const absl::Time end = absl::Now() + wait;
  while (!peer_closed_ && absl::Now() < end) ReadOnce(absl::Milliseconds(20));
}

void RawH2Client::ReadOnce(absl::Duration wait) {
  if (peer_closed_) return;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) <= 0) return;
  char buf[65536];
  const ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
  if (got <= 0) {
    peer_closed_ = true;
    return;
  }
  in_.append(buf, static_cast<size_t>(got));
  size_t at = 0;
  while (in_.size() - at >= 9) {
    const auto* h = reinterpret_cast<const uint8_t*>(in_.data() + at);
    const size_t length = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
    if (in_.size() - at < 9 + length) break;
    const int32_t stream = static_cast<int32_t>(
        ((uint32_t{h[5]} & 0x7f) << 24) | (uint32_t{h[6]} << 16) | (uint32_t{h[7]} << 8) | h[8]);
    HandleFrame(h[3], h[4], stream, in_.substr(at + 9, length));
    at += 9 + length;
  }
  in_.erase(0, at);
}

void RawH2Client::HandleFrame(uint8_t type, uint8_t flags, int32_t stream,
                              const std::string& payload) {
  auto u32 = [&](size_t at) {
    const auto* p = reinterpret_cast<const uint8_t*>(payload.data() + at);
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  };
  switch (type) {
    case NGHTTP2_SETTINGS:
      if ((flags & NGHTTP2_FLAG_ACK) != 0) return;
      for (size_t at = 0; at + 6 <= payload.size(); at += 6) {
        const uint16_t id =
            static_cast<uint16_t>((uint8_t(payload[at]) << 8) | uint8_t(payload[at + 1]));
        settings_[id] = u32(at + 2);
      }
      // Before our preface, an acknowledgement would be a bad preface of its own.
      if (preface_sent_) Send(Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, ""));
      return;
    case NGHTTP2_GOAWAY:
      got_goaway_ = true;
      if (payload.size() >= 8) {
        goaway_last_stream_ = static_cast<int32_t>(u32(0) & 0x7fffffff);
        goaway_code_ = u32(4);
      }
      return;
    case NGHTTP2_RST_STREAM:
      streams_[stream].ended = true;
      streams_[stream].reset = true;
      if (payload.size() >= 4) streams_[stream].reset_code = u32(0);
      return;
    case NGHTTP2_DATA:
      streams_[stream].data += payload;  // the server pads nothing
      if ((flags & NGHTTP2_FLAG_END_STREAM) != 0) streams_[stream].ended = true;
      return;
    case NGHTTP2_HEADERS:
    case NGHTTP2_CONTINUATION:
      if (type == NGHTTP2_HEADERS) {
        block_.clear();
        block_stream_ = stream;
        block_end_stream_ = (flags & NGHTTP2_FLAG_END_STREAM) != 0;
      }
      block_ += payload;
      if ((flags & NGHTTP2_FLAG_END_HEADERS) != 0) {
        DecodeBlock(block_stream_, block_);
        if (block_end_stream_) streams_[block_stream_].ended = true;
      }
      return;
    default:
      return;
  }
}

void RawH2Client::DecodeBlock(int32_t stream, const std::string& block) {
  const auto* in = reinterpret_cast<const uint8_t*>(block.data());
  size_t left = block.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    const ssize_t used = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, 1);
    if (used < 0) return;
    in += used;
    left -= static_cast<size_t>(used);
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) != 0) {
      streams_[stream].fields[std::string(reinterpret_cast<char*>(nv.name), nv.namelen)] =
          std::string(reinterpret_cast<char*>(nv.value), nv.valuelen);
    }
    if ((flags & NGHTTP2_HD_INFLATE_FINAL) != 0) {
      nghttp2_hd_inflate_end_headers(inflater_);
      return;
    }
    if (used == 0 && (flags & NGHTTP2_HD_INFLATE_EMIT) == 0) return;
  }
}

}  // namespace rollout::testing
