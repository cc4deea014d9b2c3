// AdminService's version registry methods: AddVersion, ListVersions, GetVersion and
// DeactivateVersion, over the Controller's registry and the engine's release history.
#include "absl/strings/str_cat.h"
#include "admin/admin_service.h"

namespace rollout::control {
namespace {

namespace v1 = ::rollout::admin::v1;

bool Names(const RolloutSpec& spec, const VersionRecord& v, bool candidate) {
  const std::string& version = candidate ? spec.candidate_version : spec.stable_version;
  const std::string& pool = candidate ? spec.candidate : spec.stable;
  // Releases from before the version was registered named only its pool.
  return version.empty() ? pool == v.pool && !v.deactivated : version == v.name;
}

}  // namespace

void AdminService::FillVersion(const VersionRecord& v, v1::Version* out) const {
  out->set_name(v.name);
  out->set_pool(v.pool);
  out->set_model(v.model);
  out->set_model_version(v.model_version);
  out->set_artifact(v.artifact);
  out->set_digest(v.digest);
  out->set_notes(v.notes);
  out->set_registered_by(v.registered_by);
  out->set_registered_time(Rfc3339(v.registered));
  out->set_first_served_time(Rfc3339(v.first_served));
  if (v.deactivated) {
    out->set_deactivated_by(v.deactivated_by);
    out->set_deactivated_time(Rfc3339(v.deactivated_at));
    out->set_deactivated_reason(v.deactivated_reason);
  }
  const std::shared_ptr<const routing::RoutingTable> table = controller_->store()->Current();
  for (const auto& route : table->routes()) {
    for (size_t i = 0; i < route.split.size(); ++i) {
      if (table->pools()[route.split.pool(i)].name != v.pool) continue;
      if (route.split.PartsPerMillion(i) == 0) continue;
      v1::RouteShare* share = out->add_shares();
      share->set_route(route.name);
      share->set_share(route.split.PartsPerMillion(i) / 1e6);
    }
  }
  bool candidate = false, stable = false;
  if (engine_ != nullptr) {
    for (const Release& r : engine_->History("")) {
      const bool as_candidate = Names(r.spec, v, true), as_stable = Names(r.spec, v, false);
      if (!as_candidate && !as_stable) continue;
      if (r.started < v.registered) continue;  // an earlier life of the pool
      out->set_last_release(r.id);
      out->set_last_release_outcome(r.Outcome());
      out->set_last_release_reason(r.outcome_reason);
      out->set_last_release_role(as_candidate ? "candidate" : "stable");
      candidate = candidate || (r.active() && as_candidate);
      stable = stable || (r.active() && as_stable);
    }
  }
  if (v.deactivated) {
    out->set_state("deactivated");
  } else if (candidate) {
    out->set_state("candidate");
  } else if (stable || out->shares_size() > 0) {
    out->set_state("active");
  } else if (v.first_served != absl::InfinitePast()) {
    out->set_state("inactive");
  } else {
    out->set_state("registered");
  }
}

grpc::Status AdminService::AddVersion(grpc::ServerContext* ctx,
                                      const v1::AddVersionRequest* request, v1::Version* response) {
  auto who = Authorize(ctx, "AddVersion");
  if (!who.ok()) return ToGrpcStatus(who.status());
  VersionRecord v;
  v.name = request->name();
  v.pool = request->pool();
  v.model = request->model();
  v.model_version = request->model_version();
  v.artifact = request->artifact();
  v.digest = request->digest();
  v.notes = request->notes();
  absl::StatusOr<VersionRecord> added = controller_->AddVersion(who->name, v, request->reason());
  if (!added.ok()) return ToGrpcStatus(added.status());
  FillVersion(*added, response);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListVersions(grpc::ServerContext* ctx, const v1::ListVersionsRequest*,
                                        v1::ListVersionsResponse* response) {
  if (auto who = Authorize(ctx, "ListVersions"); !who.ok()) return ToGrpcStatus(who.status());
  for (const auto& [name, v] : controller_->Versions()) FillVersion(v, response->add_versions());
  return grpc::Status::OK;
}

grpc::Status AdminService::GetVersion(grpc::ServerContext* ctx,
                                      const v1::GetVersionRequest* request, v1::Version* response) {
  if (auto who = Authorize(ctx, "GetVersion"); !who.ok()) return ToGrpcStatus(who.status());
  const std::map<std::string, VersionRecord> versions = controller_->Versions();
  auto it = versions.find(request->name());
  if (it == versions.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no version \"", request->name(), "\" is registered"));
  }
  FillVersion(it->second, response);
  return grpc::Status::OK;
}

grpc::Status AdminService::DeactivateVersion(grpc::ServerContext* ctx,
                                             const v1::DeactivateVersionRequest* request,
                                             v1::Version* response) {
  auto who = Authorize(ctx, "DeactivateVersion");
  if (!who.ok()) return ToGrpcStatus(who.status());
  absl::StatusOr<VersionRecord> v =
      controller_->DeactivateVersion(who->name, request->name(), request->reason());
  if (!v.ok()) return ToGrpcStatus(v.status());
  FillVersion(*v, response);
  return grpc::Status::OK;
}

}  // namespace rollout::control
