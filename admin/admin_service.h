// AdminService: the admin gRPC API (proto/rollout/admin/v1/admin.proto) over the Controller.
//
// Each method first asks AccessPolicy (its per-method role table): `authorization: Bearer
// <secret>` must match a token (UNAUTHENTICATED otherwise), and writes need the admin role
// (PERMISSION_DENIED for viewers). absl::Status from the controller becomes grpc::Status
// here, at the RPC edge.
//
// Thread-safety: thread-safe; the sync gRPC server calls it from many threads.
#ifndef ROLLOUT_ADMIN_ADMIN_SERVICE_H_
#define ROLLOUT_ADMIN_ADMIN_SERVICE_H_

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "admin/access_policy.h"
#include "admin/token_store.h"
#include "control/controller.h"
#include "metrics/call_metrics.h"
#include "rollout/admin/v1/admin.grpc.pb.h"
#include "rollout/replica_windows.h"
#include "rollout/rollout_engine.h"

namespace rollout::control {

class AdminService final : public admin::v1::AdminService::Service {
 public:
  using HealthSource = std::function<absl::flat_hash_map<std::string, bool>()>;
  // The replicas sharing the state (state_store.etcd); unset for one process.
  using ReplicaSource = std::function<absl::StatusOr<std::vector<ReplicaWindow>>()>;

  AdminService(Controller* controller, RolloutEngine* engine, TokenStore tokens,
               const metrics::CallMetrics* calls, HealthSource health,
               ReplicaSource replicas = nullptr)
      : controller_(controller),
        engine_(engine),
        access_(std::move(tokens)),
        calls_(calls),
        health_(std::move(health)),
        replicas_(std::move(replicas)) {}

  grpc::Status GetConfig(grpc::ServerContext* ctx, const admin::v1::GetConfigRequest* request,
                         admin::v1::GetConfigResponse* response) override;
  grpc::Status ListRoutes(grpc::ServerContext* ctx, const admin::v1::ListRoutesRequest* request,
                          admin::v1::ListRoutesResponse* response) override;
  grpc::Status GetAuditLog(grpc::ServerContext* ctx, const admin::v1::GetAuditLogRequest* request,
                           admin::v1::GetAuditLogResponse* response) override;
  grpc::Status SetWeights(grpc::ServerContext* ctx, const admin::v1::SetWeightsRequest* request,
                          admin::v1::SetWeightsResponse* response) override;
  grpc::Status ReloadConfig(grpc::ServerContext* ctx, const admin::v1::ReloadConfigRequest* request,
                            admin::v1::ReloadConfigResponse* response) override;
  grpc::Status StartRollout(grpc::ServerContext* ctx, const admin::v1::StartRolloutRequest* request,
                            admin::v1::Rollout* response) override;
  grpc::Status PauseRollout(grpc::ServerContext* ctx, const admin::v1::RolloutRequest* request,
                            admin::v1::Rollout* response) override;
  grpc::Status ResumeRollout(grpc::ServerContext* ctx, const admin::v1::RolloutRequest* request,
                             admin::v1::Rollout* response) override;
  grpc::Status PromoteRollout(grpc::ServerContext* ctx, const admin::v1::RolloutRequest* request,
                              admin::v1::Rollout* response) override;
  grpc::Status AbortRollout(grpc::ServerContext* ctx, const admin::v1::RolloutRequest* request,
                            admin::v1::Rollout* response) override;
  grpc::Status ApproveRollout(grpc::ServerContext* ctx, const admin::v1::RolloutRequest* request,
                              admin::v1::Rollout* response) override;
  grpc::Status GetRollout(grpc::ServerContext* ctx, const admin::v1::RolloutRequest* request,
                          admin::v1::Rollout* response) override;
  grpc::Status WatchRollout(grpc::ServerContext* ctx, const admin::v1::RolloutRequest* request,
                            grpc::ServerWriter<admin::v1::RolloutEvent>* writer) override;
  grpc::Status ListReleases(grpc::ServerContext* ctx, const admin::v1::ListReleasesRequest* request,
                            admin::v1::ListReleasesResponse* response) override;
  // Rollback to an earlier release (release_methods.cc).
  grpc::Status Rollback(grpc::ServerContext* ctx, const admin::v1::RollbackRequest* request,
                        admin::v1::Rollout* response) override;
  // The version registry (version_methods.cc).
  grpc::Status AddVersion(grpc::ServerContext* ctx, const admin::v1::AddVersionRequest* request,
                          admin::v1::Version* response) override;
  grpc::Status ListVersions(grpc::ServerContext* ctx, const admin::v1::ListVersionsRequest* request,
                            admin::v1::ListVersionsResponse* response) override;
  grpc::Status GetVersion(grpc::ServerContext* ctx, const admin::v1::GetVersionRequest* request,
                          admin::v1::Version* response) override;
  grpc::Status DeactivateVersion(grpc::ServerContext* ctx,
                                 const admin::v1::DeactivateVersionRequest* request,
                                 admin::v1::Version* response) override;

 private:
  // The caller, if AccessPolicy lets it call `method`.
  absl::StatusOr<Principal> Authorize(grpc::ServerContext* ctx, absl::string_view method) const;
  // Pause, resume, promote and abort: authorize, act, answer with the release.
  grpc::Status Act(grpc::ServerContext* ctx, absl::string_view method,
                   const admin::v1::RolloutRequest* request, admin::v1::Rollout* response,
                   absl::StatusOr<Release> (RolloutEngine::*verb)(const std::string&,
                                                                  const std::string&,
                                                                  const std::string&));
  // A version as the API shows it: its state and shares now, and its last release.
  void FillVersion(const VersionRecord& v, admin::v1::Version* out) const;
  void FillRoutes(const Controller::View& view, absl::Duration window,
                  google::protobuf::RepeatedPtrField<admin::v1::Route>* routes,
                  google::protobuf::RepeatedPtrField<admin::v1::Pool>* pools) const;

  Controller* const controller_;
  RolloutEngine* const engine_;
  const AccessPolicy access_;
  const metrics::CallMetrics* const calls_;
  const HealthSource health_;
  const ReplicaSource replicas_;
};

// A verb that lost the race with another replica's commit is tried again: the engine has
// read the records in the store, so it decides again on what is there now (the rollout may
// have ended, or be paused already, and the answer says so).
template <typename Verb>
absl::StatusOr<Release> RetryingConflicts(Verb verb) {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<Release> r = verb();
    if (r.ok() || !IsStoreConflict(r.status()) || attempt == 4) return r;
  }
}

// absl::Status -> grpc::Status, same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// A decision, and a release (its decisions only when asked for), as the admin API shows them.
void FillDecision(const Decision& decision, admin::v1::Decision* out);
void FillRollout(const Release& release, bool with_decisions, admin::v1::Rollout* out);
// StartRolloutRequest -> RolloutSpec, with the API's defaults for unset fields.
absl::StatusOr<RolloutSpec> SpecFromRequest(const admin::v1::StartRolloutRequest& request);

}  // namespace rollout::control

#endif  // ROLLOUT_ADMIN_ADMIN_SERVICE_H_
