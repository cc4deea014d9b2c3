#include "cmd/rolloutctl/client.h"

#include <google/protobuf/util/json_util.h>

#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "credentials/tls_credentials.h"
#include "metrics/status_code_name.h"

namespace rollout::ctl {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target, const Options& options) {
  grpc::ChannelArguments args;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      credentials::ChannelCredentials(options.tls, &args);
  return grpc::CreateCustomChannel(target, credentials, args);
}

Client::Client(const Options& options, std::string token)
    : options_(options),
      token_(std::move(token)),
      stub_(v1::AdminService::NewStub(NewChannel(options.admin, options))) {}

std::unique_ptr<grpc::ClientContext> Client::Context(bool deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  absl::Duration timeout;
  if (!absl::ParseDuration(options_.timeout, &timeout)) timeout = absl::Seconds(5);
  if (deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  return ctx;
}

int Client::Fail(const grpc::Status& status, const grpc::ClientContext& ctx) const {
  const bool unreachable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  std::string generation;
  auto it = ctx.GetServerTrailingMetadata().find("x-rollout-generation");
  if (it != ctx.GetServerTrailingMetadata().end()) {
    generation.assign(it->second.data(), it->second.size());
  }
  if (options_.json) {
    std::printf("{\"error\":{\"code\":\"%s\",\"message\":%s%s}}\n",
                metrics::StatusCodeName(status.error_code()), Quote(status.error_message()).c_str(),
                generation.empty() ? "" : (",\"generation\":" + generation).c_str());
  }
  std::fprintf(stderr, "rolloutctl: %s: %s\n", metrics::StatusCodeName(status.error_code()),
               status.error_message().c_str());
  if (unreachable) {
    std::fprintf(stderr, "rolloutctl: is rollout-proxy's admin API listening on %s?\n",
                 options_.admin.c_str());
  }
  return unreachable ? kUnreachable : kRejected;
}

void Client::PrintJson(const google::protobuf::Message& message) const {
  std::string out;
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.always_print_primitive_fields = true;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, print);
  std::printf("%s", out.c_str());
}

}  // namespace rollout::ctl
