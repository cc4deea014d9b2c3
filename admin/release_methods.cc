// AdminService's release-process methods beyond the rollout verbs: Rollback and
// ApproveRollout.
#include "admin/admin_service.h"

namespace rollout::control {

namespace v1 = ::rollout::admin::v1;

grpc::Status AdminService::Rollback(grpc::ServerContext* ctx, const v1::RollbackRequest* request,
                                    v1::Rollout* response) {
  auto who = Authorize(ctx, "Rollback");
  if (!who.ok()) return ToGrpcStatus(who.status());
  absl::StatusOr<Release> r = RetryingConflicts([&] {
    return engine_->Rollback(who->name, request->route(), request->to_release(),
                             request->to_version(), request->reason());
  });
  if (!r.ok()) return ToGrpcStatus(r.status());
  FillRollout(*r, true, response);
  return grpc::Status::OK;
}

grpc::Status AdminService::ApproveRollout(grpc::ServerContext* ctx,
                                          const v1::RolloutRequest* request,
                                          v1::Rollout* response) {
  return Act(ctx, "ApproveRollout", request, response, &RolloutEngine::Approve);
}

}  // namespace rollout::control
