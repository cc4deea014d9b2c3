#include "control/admin_service.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rollout::control {
namespace {

namespace v1 = ::rollout::admin::v1;

absl::StatusOr<absl::Time> ParseRfc3339(const std::string& text, const char* field) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", text, "\" is not an RFC 3339 time (", err, ")"));
  }
  return t;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::StatusOr<Principal> AdminService::Authorize(grpc::ServerContext* ctx, Role needed,
                                                  absl::string_view method) const {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError("missing `authorization: Bearer <token>` metadata");
  }
  const absl::string_view value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  std::optional<Principal> who;
  if (absl::StartsWith(value, kBearer)) who = tokens_.Authenticate(value.substr(kBearer.size()));
  if (!who.has_value()) return absl::UnauthenticatedError("invalid bearer token");
  if (needed == Role::kAdmin && who->role != Role::kAdmin) {
    return absl::PermissionDeniedError(
        absl::StrCat("token \"", who->name, "\" has the viewer role; ", method, " needs admin"));
  }
  return *who;
}

void AdminService::FillRoutes(const Controller::View& view, absl::Duration window,
                              google::protobuf::RepeatedPtrField<v1::Route>* routes,
                              google::protobuf::RepeatedPtrField<v1::Pool>* pools) const {
  const absl::flat_hash_map<std::string, bool> health =
      health_ ? health_() : absl::flat_hash_map<std::string, bool>();
  for (const auto& pool : view.table->pools()) {
    v1::Pool* p = pools->Add();
    p->set_name(pool.name);
    for (const std::string& address : pool.endpoints) {
      v1::EndpointStatus* e = p->add_endpoints();
      e->set_address(address);
      auto h = health.find(address);
      e->set_healthy(h != health.end() && h->second);
    }
  }
  for (size_t r = 0; r < view.table->routes().size(); ++r) {
    const auto& route = view.table->routes()[r];
    const routing::RouteSpec& spec = view.effective_routes[r];
    v1::Route* out = routes->Add();
    out->set_name(route.name);
    out->set_method_prefix(route.method_prefix);
    out->set_weights_source(view.weights_source.at(route.name));
    for (size_t i = 0; i < route.split.size(); ++i) {
      const std::string& pool = view.table->pools()[route.split.pool(i)].name;
      v1::PoolWeight* w = out->add_split();
      w->set_pool(pool);
      w->set_weight(spec.split[i].weight);
      w->set_share(route.split.PartsPerMillion(i) / 1e6);
      if (calls_ == nullptr) continue;
      std::optional<metrics::WindowSnapshot> s = calls_->Snapshot(route.name, pool, window);
      if (!s.has_value()) continue;
      v1::PoolWindow* t = out->add_traffic();
      t->set_pool(pool);
      t->set_requests(s->requests);
      t->set_server_errors(s->server_errors);
      t->set_client_errors(s->client_errors);
      t->set_cancelled(s->cancelled);
      t->set_p50_seconds(absl::ToDoubleSeconds(s->p50));
      t->set_p95_seconds(absl::ToDoubleSeconds(s->p95));
      t->set_p99_seconds(absl::ToDoubleSeconds(s->p99));
      t->set_window_seconds(absl::ToDoubleSeconds(s->window));
    }
  }
}

grpc::Status AdminService::GetConfig(grpc::ServerContext* ctx, const v1::GetConfigRequest*,
                                     v1::GetConfigResponse* response) {
  if (auto who = Authorize(ctx, Role::kViewer, "GetConfig"); !who.ok()) {
    return ToGrpcStatus(who.status());
  }
  const Controller::View view = controller_->Current();
  response->set_generation(view.generation);
  response->set_config_file(view.config.source);
  response->set_listen(view.config.listen);
  response->set_state_dir(view.config.state_dir);
  FillRoutes(view, absl::Seconds(30), response->mutable_routes(), response->mutable_pools());
  return grpc::Status::OK;
}

grpc::Status AdminService::ListRoutes(grpc::ServerContext* ctx,
                                      const v1::ListRoutesRequest* request,
                                      v1::ListRoutesResponse* response) {
  if (auto who = Authorize(ctx, Role::kViewer, "ListRoutes"); !who.ok()) {
    return ToGrpcStatus(who.status());
  }
  if (request->window_seconds() < 0 || request->window_seconds() > 60) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "window_seconds: must be between 0 (default 30) and 60");
  }
  const absl::Duration window =
      request->window_seconds() == 0 ? absl::Seconds(30) : absl::Seconds(request->window_seconds());
  const Controller::View view = controller_->Current();
  response->set_generation(view.generation);
  FillRoutes(view, window, response->mutable_routes(), response->mutable_pools());
  return grpc::Status::OK;
}

grpc::Status AdminService::GetAuditLog(grpc::ServerContext* ctx,
                                       const v1::GetAuditLogRequest* request,
                                       v1::GetAuditLogResponse* response) {
  if (auto who = Authorize(ctx, Role::kViewer, "GetAuditLog"); !who.ok()) {
    return ToGrpcStatus(who.status());
  }
  AuditLog::Query query;
  query.route = request->route();
  if (!request->since().empty()) {
    auto t = ParseRfc3339(request->since(), "since");
    if (!t.ok()) return ToGrpcStatus(t.status());
    query.since = *t;
  }
  if (!request->until().empty()) {
    auto t = ParseRfc3339(request->until(), "until");
    if (!t.ok()) return ToGrpcStatus(t.status());
    query.until = *t;
  }
  if (request->page_size() > 1000) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size: at most 1000");
  }
  query.limit = request->page_size() == 0 ? 100 : request->page_size();
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &query.start)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "page_token: not a token from a previous response");
  }
  AuditLog::Page page = controller_->audit().Read(query);
  for (const AuditEntry& e : page.entries) {
    v1::AuditEntry* out = response->add_entries();
    out->set_time(absl::FormatTime(absl::RFC3339_full, e.time, absl::UTCTimeZone()));
    out->set_actor(e.actor);
    out->set_verb(e.verb);
    out->set_route(e.route);
    out->set_before(e.before.dump());
    out->set_after(e.after.dump());
    out->set_reason(e.reason);
    out->set_generation(e.generation);
  }
  if (page.next.has_value()) response->set_next_page_token(absl::StrCat(*page.next));
  return grpc::Status::OK;
}

grpc::Status AdminService::SetWeights(grpc::ServerContext* ctx,
                                      const v1::SetWeightsRequest* request,
                                      v1::SetWeightsResponse* response) {
  auto who = Authorize(ctx, Role::kAdmin, "SetWeights");
  if (!who.ok()) return ToGrpcStatus(who.status());
  std::map<std::string, double> weights(request->weights().begin(), request->weights().end());
  std::optional<uint64_t> expected;
  if (request->has_expected_generation()) expected = request->expected_generation();
  absl::StatusOr<uint64_t> generation =
      controller_->SetWeights(who->name, request->route(), weights, expected, request->reason());
  if (!generation.ok()) {
    if (generation.status().code() == absl::StatusCode::kAborted) {
      ctx->AddTrailingMetadata("x-rollout-generation",
                               absl::StrCat(controller_->Current().generation));
    }
    return ToGrpcStatus(generation.status());
  }
  response->set_generation(*generation);
  const Controller::View view = controller_->Current();
  google::protobuf::RepeatedPtrField<v1::Route> routes;
  google::protobuf::RepeatedPtrField<v1::Pool> pools;
  FillRoutes(view, absl::Seconds(30), &routes, &pools);
  for (const auto& r : routes) {
    if (r.name() == request->route()) *response->mutable_route() = r;
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ReloadConfig(grpc::ServerContext* ctx,
                                        const v1::ReloadConfigRequest* request,
                                        v1::ReloadConfigResponse* response) {
  auto who = Authorize(ctx, Role::kAdmin, "ReloadConfig");
  if (!who.ok()) return ToGrpcStatus(who.status());
  absl::StatusOr<Controller::ReloadResult> result = controller_->Reload(
      who->name, request->reason().empty() ? "ReloadConfig" : request->reason());
  if (!result.ok()) {
    std::fprintf(stderr, "rollout-proxy: %s\n", std::string(result.status().message()).c_str());
    return ToGrpcStatus(result.status());
  }
  response->set_generation(result->generation);
  response->set_changed(result->changed);
  for (const std::string& note : result->notes) response->add_notes(note);
  return grpc::Status::OK;
}

grpc::Status AdminService::NotBuilt(grpc::ServerContext* ctx, Role needed,
                                    absl::string_view method) const {
  if (auto who = Authorize(ctx, needed, method); !who.ok()) return ToGrpcStatus(who.status());
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat(method,
                                   ": the rollout engine is not built yet; move traffic "
                                   "with SetWeights (rolloutctl set-weight) for now"));
}

grpc::Status AdminService::StartRollout(grpc::ServerContext* ctx, const v1::StartRolloutRequest*,
                                        v1::Rollout*) {
  return NotBuilt(ctx, Role::kAdmin, "StartRollout");
}
grpc::Status AdminService::PauseRollout(grpc::ServerContext* ctx, const v1::RolloutRequest*,
                                        v1::Rollout*) {
  return NotBuilt(ctx, Role::kAdmin, "PauseRollout");
}
grpc::Status AdminService::ResumeRollout(grpc::ServerContext* ctx, const v1::RolloutRequest*,
                                         v1::Rollout*) {
  return NotBuilt(ctx, Role::kAdmin, "ResumeRollout");
}
grpc::Status AdminService::PromoteRollout(grpc::ServerContext* ctx, const v1::RolloutRequest*,
                                          v1::Rollout*) {
  return NotBuilt(ctx, Role::kAdmin, "PromoteRollout");
}
grpc::Status AdminService::AbortRollout(grpc::ServerContext* ctx, const v1::RolloutRequest*,
                                        v1::Rollout*) {
  return NotBuilt(ctx, Role::kAdmin, "AbortRollout");
}
grpc::Status AdminService::GetRollout(grpc::ServerContext* ctx, const v1::RolloutRequest*,
                                      v1::Rollout*) {
  return NotBuilt(ctx, Role::kViewer, "GetRollout");
}
grpc::Status AdminService::WatchRollout(grpc::ServerContext* ctx, const v1::RolloutRequest*,
                                        grpc::ServerWriter<v1::RolloutEvent>*) {
  return NotBuilt(ctx, Role::kViewer, "WatchRollout");
}

}  // namespace rollout::control
