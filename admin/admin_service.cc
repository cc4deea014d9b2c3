#include "admin/admin_service.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"

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

absl::StatusOr<Principal> AdminService::Authorize(grpc::ServerContext* ctx,
                                                  absl::string_view method) const {
  return access_.Check(ctx->client_metadata(), method);
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
    if (engine_ != nullptr) {
      if (absl::StatusOr<Release> r = engine_->Get(route.name); r.ok()) {
        FillRollout(*r, false, out->mutable_rollout());
      }
    }
    out->set_active_pool(view.table->pools()[route.split.pool(route.split.Largest())].name);
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
      t->set_first_messages(s->first_timed);
      t->set_first_message_p50_seconds(absl::ToDoubleSeconds(s->first_p50));
      t->set_first_message_p95_seconds(absl::ToDoubleSeconds(s->first_p95));
      t->set_first_message_p99_seconds(absl::ToDoubleSeconds(s->first_p99));
      t->set_message_gap_p99_seconds(absl::ToDoubleSeconds(s->gap_p99));
    }
  }
}

grpc::Status AdminService::GetConfig(grpc::ServerContext* ctx, const v1::GetConfigRequest*,
                                     v1::GetConfigResponse* response) {
  if (auto who = Authorize(ctx, "GetConfig"); !who.ok()) {
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
  if (auto who = Authorize(ctx, "ListRoutes"); !who.ok()) {
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
  response->set_replica_role(controller_->Role());
  response->set_leader(controller_->Leader());
  if (replicas_) {
    absl::StatusOr<std::vector<ReplicaWindow>> replicas = replicas_();
    if (replicas.ok()) {
      for (const ReplicaWindow& r : *replicas) {
        v1::Replica* out = response->add_replicas();
        out->set_name(r.replica);
        out->set_leader(r.replica == response->leader());
        out->set_last_second(absl::FormatTime(
            absl::RFC3339_full, absl::FromUnixSeconds(r.last_second), absl::UTCTimeZone()));
      }
    }
  }
  FillRoutes(view, window, response->mutable_routes(), response->mutable_pools());
  return grpc::Status::OK;
}

grpc::Status AdminService::GetAuditLog(grpc::ServerContext* ctx,
                                       const v1::GetAuditLogRequest* request,
                                       v1::GetAuditLogResponse* response) {
  if (auto who = Authorize(ctx, "GetAuditLog"); !who.ok()) {
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
    out->set_replica(e.replica);
  }
  if (page.next.has_value()) response->set_next_page_token(absl::StrCat(*page.next));
  return grpc::Status::OK;
}

grpc::Status AdminService::SetWeights(grpc::ServerContext* ctx,
                                      const v1::SetWeightsRequest* request,
                                      v1::SetWeightsResponse* response) {
  auto who = Authorize(ctx, "SetWeights");
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
  auto who = Authorize(ctx, "ReloadConfig");
  if (!who.ok()) return ToGrpcStatus(who.status());
  absl::StatusOr<Controller::ReloadResult> result = controller_->Reload(
      who->name, request->reason().empty() ? "ReloadConfig" : request->reason());
  if (!result.ok()) {
    log::Error(result.status().message());
    return ToGrpcStatus(result.status());
  }
  response->set_generation(result->generation);
  response->set_changed(result->changed);
  for (const std::string& note : result->notes) response->add_notes(note);
  for (const std::string& note : engine_->StartDeclared(controller_->Current().config.rollouts)) {
    response->add_notes(note);
  }
  return grpc::Status::OK;
}

void FillDecision(const Decision& d, v1::Decision* o) {
  o->set_time(Rfc3339(d.time));
  o->set_step(d.step);
  o->set_kind(DecisionKindName(d.kind));
  o->set_actor(d.actor);
  o->set_detail(d.detail);
  if (d.data.is_object() && d.data.contains("checks")) {
    for (const auto& c : d.data["checks"]) {
      v1::Check* check = o->add_checks();
      check->set_name(c.value("name", ""));
      check->set_measured(c.value("measured", 0.0));
      check->set_threshold(c.value("threshold", 0.0));
      check->set_ok(c.value("ok", true));
    }
  }
  if (!d.data.is_null()) o->set_data_json(d.data.dump());
}

void FillRollout(const Release& r, bool with_decisions, v1::Rollout* out) {
  out->set_route(r.spec.route);
  out->set_strategy(StrategyName(r.spec.strategy));
  out->set_phase(PhaseName(r.phase));
  out->set_step(r.step + 1);
  out->set_id(r.id);
  out->set_stable(r.spec.stable);
  out->set_candidate(r.spec.candidate);
  out->set_stable_version(r.spec.stable_version);
  for (const Gate& g : r.gates) {
    v1::Gate* gate = out->add_gates();
    gate->set_name(g.name);
    gate->set_state(GateStateName(g.state));
    gate->set_detail(g.detail);
    gate->set_by(g.by);
    gate->set_time(Rfc3339(g.time));
    if (!g.data.is_null()) gate->set_data_json(g.data.dump());
  }
  out->set_candidate_version(r.spec.candidate_version);
  out->set_total_steps(r.TotalSteps());
  out->set_candidate_percent(r.CandidatePercent());
  for (const auto& [pool, share] :
       {std::pair<std::string, double>{r.spec.stable, 100 - r.CandidatePercent()},
        {r.spec.candidate, r.CandidatePercent()}}) {
    v1::PoolWeight* w = out->add_split();
    w->set_pool(pool);
    w->set_weight(share);
    w->set_share(share / 100);
  }
  out->set_started_by(r.started_by);
  out->set_start_time(Rfc3339(r.started));
  out->set_end_time(Rfc3339(r.ended));
  out->set_outcome(r.Outcome());
  out->set_outcome_reason(r.outcome_reason);
  out->set_notes(r.spec.notes);
  out->set_reason(r.reason);
  out->set_source(r.source);
  if (r.phase == Phase::kProgressing || r.phase == Phase::kRollbackWindow) {
    out->set_next_analysis_time(Rfc3339(r.next_analysis));
  }
  out->set_consecutive_failures(r.consecutive_failures);
  out->set_consecutive_holds(r.consecutive_holds);
  if (r.phase == Phase::kPaused || r.phase == Phase::kInconclusive) {
    for (const Decision& d : r.decisions) {
      if (d.kind == DecisionKind::kPause || d.kind == DecisionKind::kInconclusive) {
        out->set_stopped_reason(d.detail);
      }
    }
  }
  out->set_follows(r.follows);
  out->set_rollback_to(r.rollback_to);
  out->set_start_at(Rfc3339(r.spec.start_at));
  if (r.spec.window.has_value()) out->set_window(r.spec.window->ToString());
  out->set_spec_json(r.spec.ToJson().dump());
  if (!with_decisions) return;
  for (const Decision& d : r.decisions) FillDecision(d, out->add_decisions());
}

grpc::Status AdminService::StartRollout(grpc::ServerContext* ctx,
                                        const v1::StartRolloutRequest* request,
                                        v1::Rollout* response) {
  auto who = Authorize(ctx, "StartRollout");
  if (!who.ok()) return ToGrpcStatus(who.status());
  absl::StatusOr<RolloutSpec> spec = SpecFromRequest(*request);
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  absl::StatusOr<Release> r =
      RetryingConflicts([&] { return engine_->Start(who->name, *spec, request->reason()); });
  if (!r.ok()) return ToGrpcStatus(r.status());
  FillRollout(*r, true, response);
  return grpc::Status::OK;
}

grpc::Status AdminService::Act(grpc::ServerContext* ctx, absl::string_view method,
                               const v1::RolloutRequest* request, v1::Rollout* response,
                               absl::StatusOr<Release> (RolloutEngine::*verb)(const std::string&,
                                                                              const std::string&,
                                                                              const std::string&)) {
  auto who = Authorize(ctx, method);
  if (!who.ok()) return ToGrpcStatus(who.status());
  absl::StatusOr<Release> r = RetryingConflicts(
      [&] { return (engine_->*verb)(who->name, request->route(), request->reason()); });
  if (!r.ok()) return ToGrpcStatus(r.status());
  FillRollout(*r, true, response);
  return grpc::Status::OK;
}

grpc::Status AdminService::PauseRollout(grpc::ServerContext* ctx, const v1::RolloutRequest* request,
                                        v1::Rollout* response) {
  return Act(ctx, "PauseRollout", request, response, &RolloutEngine::Pause);
}
grpc::Status AdminService::ResumeRollout(grpc::ServerContext* ctx,
                                         const v1::RolloutRequest* request, v1::Rollout* response) {
  return Act(ctx, "ResumeRollout", request, response, &RolloutEngine::Resume);
}
grpc::Status AdminService::PromoteRollout(grpc::ServerContext* ctx,
                                          const v1::RolloutRequest* request,
                                          v1::Rollout* response) {
  return Act(ctx, "PromoteRollout", request, response, &RolloutEngine::Promote);
}
grpc::Status AdminService::AbortRollout(grpc::ServerContext* ctx, const v1::RolloutRequest* request,
                                        v1::Rollout* response) {
  return Act(ctx, "AbortRollout", request, response, &RolloutEngine::Abort);
}

grpc::Status AdminService::GetRollout(grpc::ServerContext* ctx, const v1::RolloutRequest* request,
                                      v1::Rollout* response) {
  if (auto who = Authorize(ctx, "GetRollout"); !who.ok()) {
    return ToGrpcStatus(who.status());
  }
  absl::StatusOr<Release> r =
      request->id() != 0 ? engine_->GetById(request->id()) : engine_->Get(request->route());
  if (!r.ok()) return ToGrpcStatus(r.status());
  FillRollout(*r, true, response);
  return grpc::Status::OK;
}

grpc::Status AdminService::ListReleases(grpc::ServerContext* ctx,
                                        const v1::ListReleasesRequest* request,
                                        v1::ListReleasesResponse* response) {
  if (auto who = Authorize(ctx, "ListReleases"); !who.ok()) {
    return ToGrpcStatus(who.status());
  }
  for (const Release& r : engine_->History(request->route())) {
    FillRollout(r, false, response->add_releases());
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::WatchRollout(grpc::ServerContext* ctx, const v1::RolloutRequest* request,
                                        grpc::ServerWriter<v1::RolloutEvent>* writer) {
  if (auto who = Authorize(ctx, "WatchRollout"); !who.ok()) {
    return ToGrpcStatus(who.status());
  }
  const Controller::View view = controller_->Current();
  if (!request->route().empty() && view.weights_source.count(request->route()) == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("route: unknown route \"", request->route(), "\""));
  }
  uint64_t seq = engine_->LastEventSeq();
  v1::RolloutEvent first;
  first.set_time(Rfc3339(absl::Now()));
  first.set_decision("state");
  if (absl::StatusOr<Release> r = engine_->Get(request->route()); r.ok()) {
    FillRollout(*r, false, first.mutable_rollout());
    first.set_detail(r->decisions.empty() ? "" : r->decisions.back().detail);
  } else {
    first.set_detail(std::string(r.status().message()));
  }
  if (!writer->Write(first)) return grpc::Status::OK;
  while (!ctx->IsCancelled()) {
    for (const RolloutEngine::Event& e :
         engine_->WaitEvents(seq, request->route(), absl::Now() + absl::Milliseconds(500))) {
      seq = e.seq;
      v1::RolloutEvent out;
      out.set_time(Rfc3339(e.decision.time));
      FillRollout(e.release, false, out.mutable_rollout());
      out.set_decision(DecisionKindName(e.decision.kind));
      out.set_detail(e.decision.detail);
      FillDecision(e.decision, out.mutable_entry());
      if (!writer->Write(out)) return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

}  // namespace rollout::control
