// RawH2Client: an HTTP/2 client that writes frames byte by byte, for tests that must send
// what a well-behaved library never would (invalid fields, floods, half-finished header
// blocks, resets in bulk) and see exactly what the server answers.
//
// Frames are built by hand (HPACK literals without Huffman, so any name or value can be
// sent); the server's header blocks are decoded with nghttp2's HPACK inflater. Once it has
// sent its preface, the client acknowledges the server's SETTINGS by itself, and nothing
// else.
//
//   RawH2Client c(proxy.port());
//   c.Send(RawH2Client::Preface());
//   c.Send(RawH2Client::Headers(1, RawH2Client::GrpcRequest("/pkg.Svc/M", {{"x-a", "b"}}),
//                               /*end_stream=*/false));
//   c.Send(RawH2Client::Data(1, RawH2Client::GrpcMessage(""), /*end_stream=*/true));
//   RawH2Client::Stream s = c.Wait(1, absl::Seconds(5));
//
// Thread-safety: not thread-safe.
#ifndef ROLLOUT_TESTS_SUPPORT_RAW_H2_CLIENT_H_
#define ROLLOUT_TESTS_SUPPORT_RAW_H2_CLIENT_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace rollout::testing {

class RawH2Client {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  // Connects to 127.0.0.1:port; `receive_buffer` > 0 sets SO_RCVBUF first (a slow reader).
  explicit RawH2Client(int port, int receive_buffer = 0);
  ~RawH2Client();
  RawH2Client(const RawH2Client&) = delete;
  RawH2Client& operator=(const RawH2Client&) = delete;

  bool connected() const { return fd_ >= 0 && connected_; }

  // --- What to send (byte strings) ---
  // The client connection preface and an empty SETTINGS frame.
  static std::string Preface();
  static std::string Frame(uint8_t type, uint8_t flags, int32_t stream, const std::string& payload);
  // An HPACK "literal field without indexing, new name", without Huffman coding.
  static std::string Literal(const std::string& name, const std::string& value);
  // The same, added to the server's dynamic table (index 62 right after).
  static std::string IndexedLiteral(const std::string& name, const std::string& value);
  // The header block of a gRPC request on `path`, then `extra` fields.
  static std::string GrpcRequest(const std::string& path, const Fields& extra = {});
  static std::string Headers(int32_t stream, const std::string& block, bool end_stream,
                             bool end_headers = true);
  static std::string Continuation(int32_t stream, const std::string& block, bool end_headers);
  static std::string Data(int32_t stream, const std::string& payload, bool end_stream);
  static std::string RstStream(int32_t stream, uint32_t code);
  static std::string Ping();
  // A gRPC message: the 5-byte prefix, then `payload`.
  static std::string GrpcMessage(const std::string& payload);

  // Writes all of `bytes`; false once the connection is broken.
  bool Send(const std::string& bytes);

  // --- What came back ---
  struct Stream {
    std::map<std::string, std::string> fields;  // headers and trailers, by name
    std::string data;                           // the DATA received, in order
    bool ended = false;                         // END_STREAM or RST_STREAM received
    bool reset = false;
    uint32_t reset_code = 0;
  };
  // Reads until `stream` has ended or the connection closes (or the time is up).
  Stream Wait(int32_t stream, absl::Duration timeout);
  // Reads until the peer closes the connection; true if it did in time.
  bool WaitForClose(absl::Duration timeout);
  // Reads what arrives for `wait` (or less, if the connection closes).
  void Pump(absl::Duration wait);

  bool peer_closed() const { return peer_closed_; }
  bool got_goaway() const { return got_goaway_; }
  uint32_t goaway_code() const { return goaway_code_; }
  int32_t goaway_last_stream() const { return goaway_last_stream_; }
  // The server's SETTINGS values, by identifier.
  const std::map<uint16_t, uint32_t>& server_settings() const { return settings_; }
  const Stream& stream(int32_t id) { return streams_[id]; }

 private:
  // Reads once (waiting up to `wait`) and handles every complete frame.
  void ReadOnce(absl::Duration wait);
  void HandleFrame(uint8_t type, uint8_t flags, int32_t stream, const std::string& payload);
  void DecodeBlock(int32_t stream, const std::string& block);

  int fd_ = -1;
  bool connected_ = false;
  bool preface_sent_ = false;
  bool peer_closed_ = false;
  bool got_goaway_ = false;
  uint32_t goaway_code_ = 0;
  int32_t goaway_last_stream_ = -1;
  std::string in_;
  std::string block_;  // a header block continued in CONTINUATION frames
  int32_t block_stream_ = 0;
  bool block_end_stream_ = false;
  nghttp2_hd_inflater* inflater_ = nullptr;
  std::map<uint16_t, uint32_t> settings_;
  std::map<int32_t, Stream> streams_;
};

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_RAW_H2_CLIENT_H_
