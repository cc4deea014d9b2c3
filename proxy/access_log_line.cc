#include "proxy/access_log_line.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "metrics/status_code_name.h"

namespace rollout::proxy {
namespace {

using Format = routing::AccessLogSpec::Format;

// `value`, cut to kMaxClientField bytes, as a JSON string's contents (or a text value's, in
// quotes when it holds a space, a quote or '=').
void AppendEscaped(absl::string_view value, std::string* out) {
  if (value.size() > kMaxClientField) value = value.substr(0, kMaxClientField);
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20 || u >= 0x7f) {
      // Header values are bytes, not text: anything outside printable ASCII is written as a
      // \u00XX escape, so every line is valid UTF-8 and one line.
      absl::StrAppendFormat(out, "\\u%04x", u);
    } else {
      out->push_back(c);
    }
  }
}

bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  for (const char c : value.substr(0, kMaxClientField)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || u < 0x20 || u >= 0x7f) return true;
  }
  return false;
}

// ISO 8601 UTC with milliseconds: 2026-12-02T07:19:31.123Z.
void AppendTime(int64_t unix_ns, std::string* out) {
  const time_t seconds = static_cast<time_t>(unix_ns / 1'000'000'000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  out->append(text, n);
  absl::StrAppendFormat(out, ".%03dZ", static_cast<int>(unix_ns / 1'000'000 % 1000));
}

class Writer {
 public:
  Writer(Format format, std::string* out) : json_(format == Format::kJson), out_(out) {}

  void Key(absl::string_view key) {
    if (json_) {
      out_->append(first_ ? "{\"" : ",\"");
      out_->append(key.data(), key.size());
      out_->append("\":");
    } else {
      if (!first_) out_->push_back(' ');
      out_->append(key.data(), key.size());
      out_->push_back('=');
    }
    first_ = false;
  }
  void String(absl::string_view key, absl::string_view value) {
    Key(key);
    const bool quote = json_ || NeedsQuotes(value);
    if (quote) out_->push_back('"');
    AppendEscaped(value, out_);
    if (quote) out_->push_back('"');
  }
  void Time(int64_t unix_ns) {
    Key("time");
    if (json_) out_->push_back('"');
    AppendTime(unix_ns, out_);
    if (json_) out_->push_back('"');
  }
  template <typename T>
  void Number(absl::string_view key, T value) {
    Key(key);
    absl::StrAppend(out_, value);
  }
  void Milliseconds(absl::string_view key, int64_t ns) {
    Key(key);
    absl::StrAppendFormat(out_, "%.3f", static_cast<double>(ns) / 1e6);
  }
  void End() { out_->append(json_ ? "}\n" : "\n"); }

 private:
  const bool json_;
  std::string* const out_;
  bool first_ = true;
};

}  // namespace

void AppendAccessLogLine(const AccessLogEntry& e, Format format, std::string* out) {
  Writer w(format, out);
  w.Time(e.start_unix_ns);
  w.String("route", e.route);
  w.String("pool", e.pool);
  w.String("endpoint", e.endpoint);
  w.String("method", e.method);
  w.String("grpc_status", metrics::StatusCodeName(e.grpc_code));
  w.Number("grpc_code", e.grpc_code);
  w.Milliseconds("duration_ms", e.duration_ns);
  w.Number("bytes_received", e.bytes_received);
  w.Number("bytes_sent", e.bytes_sent);
  w.Number("retries", e.retries);
  if (!e.request_id.empty()) w.String("request_id", e.request_id);
  if (!e.traceparent.empty()) w.String("traceparent", e.traceparent);
  w.End();
}

}  // namespace rollout::proxy
