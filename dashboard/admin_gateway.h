// AdminGateway: the dashboard's reads and actions, made as calls to the admin gRPC API
// over an in-process channel with the browser's token. So the page sees and does exactly
// what that token may through rolloutctl: the same role table (AccessPolicy), the same
// audit entries (the token's name is the actor), the same errors.
//
//   AdminGateway gateway(admin_server->InProcessChannel());
//   absl::StatusOr<nlohmann::json> state = gateway.State(token);
//   absl::StatusOr<nlohmann::json> r = gateway.Act(token, "abort", "infer", "bad p99");
//
// Thread-safety: thread-safe (a gRPC stub).
#ifndef ROLLOUT_DASHBOARD_ADMIN_GATEWAY_H_
#define ROLLOUT_DASHBOARD_ADMIN_GATEWAY_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "rollout/admin/v1/admin.grpc.pb.h"

namespace rollout::dashboard {

class AdminGateway final {
 public:
  static constexpr size_t kMaxReleases = 50;   // the newest of the history
  static constexpr size_t kMaxDecisions = 50;  // the newest of a release's decisions
  explicit AdminGateway(std::shared_ptr<grpc::Channel> channel)
      : stub_(admin::v1::AdminService::NewStub(std::move(channel))) {}

  // What the page shows, as the admin API gives it (field names as in admin.proto):
  //   {"routes": ListRoutes (the split, the last 10 s per pool, the pools' endpoints),
  //    "rollouts": {route: GetRollout with its newest kMaxDecisions decisions} for each
  //    route's latest release, "releases": the newest kMaxReleases of ListReleases,
  //    "versions": ListVersions}
  // An error when the token may not read (UNAUTHENTICATED).
  absl::StatusOr<nlohmann::json> State(const std::string& token) const;

  // `verb` (pause, resume, promote, abort or approve) on `route`'s rollout; the release
  // after it, or the API's error (PERMISSION_DENIED for a viewer's token).
  absl::StatusOr<nlohmann::json> Act(const std::string& token, const std::string& verb,
                                     const std::string& route, const std::string& reason) const;

 private:
  std::unique_ptr<admin::v1::AdminService::Stub> stub_;
};

}  // namespace rollout::dashboard

#endif  // ROLLOUT_DASHBOARD_ADMIN_GATEWAY_H_
