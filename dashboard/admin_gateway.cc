#include "dashboard/admin_gateway.h"

#include <google/protobuf/util/json_util.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace rollout::dashboard {
namespace {

using admin::v1::AdminService;

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

nlohmann::json ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return {};
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// A context carrying the caller's token, with a deadline: an in-process call still waits
// for the controller's lock.
std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  return ctx;
}

using Verb = grpc::Status (AdminService::Stub::*)(grpc::ClientContext*,
                                                  const admin::v1::RolloutRequest&,
                                                  admin::v1::Rollout*);

}  // namespace

absl::StatusOr<nlohmann::json> AdminGateway::State(const std::string& token) const {
  nlohmann::json out;
  admin::v1::ListRoutesRequest routes_request;
  routes_request.set_window_seconds(10);
  admin::v1::ListRoutesResponse routes;
  if (grpc::Status s = stub_->ListRoutes(Context(token).get(), routes_request, &routes); !s.ok()) {
    return FromGrpc(s);
  }
  out["routes"] = ToJson(routes);
  admin::v1::ListReleasesResponse releases;
  if (grpc::Status s = stub_->ListReleases(Context(token).get(), {}, &releases); !s.ok()) {
    return FromGrpc(s);
  }
  // The page shows the newest; the state goes out on every change, so it stays small.
  nlohmann::json history = ToJson(releases)["releases"];
  if (history.size() > kMaxReleases) {
    history.erase(history.begin(), history.end() - static_cast<std::ptrdiff_t>(kMaxReleases));
  }
  out["releases"] = std::move(history);
  // Each route's latest release, with its decisions.
  std::map<std::string, uint64_t> latest;
  for (const admin::v1::Rollout& r : releases.releases()) latest[r.route()] = r.id();
  out["rollouts"] = nlohmann::json::object();
  for (const auto& [route, id] : latest) {
    admin::v1::RolloutRequest request;
    request.set_route(route);
    request.set_id(id);
    admin::v1::Rollout rollout;
    if (grpc::Status s = stub_->GetRollout(Context(token).get(), request, &rollout); s.ok()) {
      const int extra = rollout.decisions_size() - static_cast<int>(kMaxDecisions);
      if (extra > 0) rollout.mutable_decisions()->DeleteSubrange(0, extra);
      out["rollouts"][route] = ToJson(rollout);
    }
  }
  admin::v1::ListVersionsResponse versions;
  if (grpc::Status s = stub_->ListVersions(Context(token).get(), {}, &versions); s.ok()) {
    out["versions"] = ToJson(versions)["versions"];
  }
  return out;
}

absl::StatusOr<nlohmann::json> AdminGateway::Act(const std::string& token, const std::string& verb,
                                                 const std::string& route,
                                                 const std::string& reason) const {
  static const std::map<std::string, Verb> kVerbs = {
      {"pause", &AdminService::Stub::PauseRollout},
      {"resume", &AdminService::Stub::ResumeRollout},
      {"promote", &AdminService::Stub::PromoteRollout},
      {"abort", &AdminService::Stub::AbortRollout},
      {"approve", &AdminService::Stub::ApproveRollout}};
  const auto it = kVerbs.find(verb);
  if (it == kVerbs.end()) {
    return absl::NotFoundError(
        absl::StrCat("no action \"", verb, "\": pause, resume, promote, abort or approve"));
  }
  admin::v1::RolloutRequest request;
  request.set_route(route);
  request.set_reason(reason);
  admin::v1::Rollout rollout;
  if (grpc::Status s = ((*stub_).*(it->second))(Context(token).get(), request, &rollout); !s.ok()) {
    return FromGrpc(s);
  }
  return ToJson(rollout);
}

}  // namespace rollout::dashboard
