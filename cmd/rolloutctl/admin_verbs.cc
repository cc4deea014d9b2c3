// The verbs on routes, weights, the config and the records: status, routes, set-weight,
// reload, audit, history, and health (the data port's grpc.health.v1).
#include <grpcpp/generic/generic_stub.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cmd/rolloutctl/print.h"
#include "cmd/rolloutctl/verbs.h"
#include "metrics/status_code_name.h"

namespace rollout::ctl {
namespace {

void AddReason(CLI::App* cmd, Args* a, bool required) {
  CLI::Option* o = cmd->add_option("--reason", a->reason, "why (recorded in the audit log)");
  if (required) o->required();
}

// status and routes: ListRoutes, shown with (status) or without the pools.
int ShowRoutes(Client& client, double window, bool with_pools) {
  v1::ListRoutesRequest request;
  request.set_window_seconds(window);
  return Call(client, &v1::AdminService::Stub::ListRoutes, request,
              [&](const v1::ListRoutesResponse& response) {
                std::printf("generation %llu\n",
                            static_cast<unsigned long long>(response.generation()));
                if (!response.replica_role().empty()) {
                  std::printf("replica: %s (leader: %s)\n", response.replica_role().c_str(),
                              response.leader().empty() ? "none" : response.leader().c_str());
                }
                if (response.replicas_size() > 0) {
                  std::printf("replicas judged together (%d):\n", response.replicas_size());
                  for (const v1::Replica& r : response.replicas()) {
                    std::printf("  %s%s  traffic up to %s\n", r.name().c_str(),
                                r.leader() ? "  (leader)" : "", r.last_second().c_str());
                  }
                }
                PrintRoutes(response.routes());
                if (with_pools) PrintPools(response.pools());
              });
}

int SetWeight(Client& client, const Args& a) {
  v1::SetWeightsRequest request;
  request.set_route(a.route);
  request.set_reason(a.reason);
  if (a.expected_generation >= 0) request.set_expected_generation(a.expected_generation);
  for (const std::string& assignment : a.assignments) {
    std::vector<std::string> parts = absl::StrSplit(assignment, absl::MaxSplits('=', 1));
    double weight = 0;
    if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtod(parts[1], &weight)) {
      std::fprintf(stderr, "rolloutctl: set-weight: \"%s\" is not POOL=WEIGHT\n",
                   assignment.c_str());
      return kUsage;
    }
    (*request.mutable_weights())[parts[0]] = weight;
  }
  return Call(client, &v1::AdminService::Stub::SetWeights, request,
              [&](const v1::SetWeightsResponse& response) {
                std::printf("generation %llu\n",
                            static_cast<unsigned long long>(response.generation()));
                google::protobuf::RepeatedPtrField<v1::Route> one;
                *one.Add() = response.route();
                PrintRoutes(one);
              });
}

int Reload(Client& client, const Args& a) {
  v1::ReloadConfigRequest request;
  request.set_reason(a.reason);
  return Call(client, &v1::AdminService::Stub::ReloadConfig, request,
              [&](const v1::ReloadConfigResponse& response) {
                std::printf("reloaded: generation %llu%s\n",
                            static_cast<unsigned long long>(response.generation()),
                            response.changed() ? "" : " (no change)");
                for (const auto& note : response.notes()) std::printf("  %s\n", note.c_str());
              });
}

int Audit(Client& client, const Args& a) {
  v1::GetAuditLogRequest request;
  request.set_route(a.route);
  request.set_since(a.since);
  request.set_until(a.until);
  request.set_page_size(a.limit);
  request.set_page_token(a.page_token);
  return Call(client, &v1::AdminService::Stub::GetAuditLog, request,
              [&](const v1::GetAuditLogResponse& response) {
                for (const auto& e : response.entries()) {
                  std::printf("%s gen %llu %-8s %-12s %-8s %s -> %s  \"%s\"%s%s\n",
                              e.time().c_str(), static_cast<unsigned long long>(e.generation()),
                              e.actor().c_str(), e.verb().c_str(),
                              e.route().empty() ? "-" : e.route().c_str(), e.before().c_str(),
                              e.after().c_str(), e.reason().c_str(),
                              e.replica().empty() ? "" : "  via ", e.replica().c_str());
                }
                if (!response.next_page_token().empty()) {
                  std::printf("more: --page-token %s\n", response.next_page_token().c_str());
                }
              });
}

int History(Client& client, const Args& a) {
  v1::ListReleasesRequest request;
  request.set_route(a.route);
  return Call(client, &v1::AdminService::Stub::ListReleases, request,
              [&](const v1::ListReleasesResponse& response) {
                for (const v1::Rollout& r : response.releases()) {
                  std::printf(
                      "#%-4llu %-10s %-10s %s -> %s  %-11s %s .. %s  by %s%s%s\n",
                      static_cast<unsigned long long>(r.id()), r.route().c_str(),
                      r.strategy().c_str(), StableName(r).c_str(), CandidateName(r).c_str(),
                      r.outcome().c_str(), Local(r.start_time()).c_str(),
                      r.end_time().empty() ? "now" : Local(r.end_time(), "%H:%M:%S").c_str(),
                      r.started_by().c_str(),
                      r.notes().empty() ? "" : "  notes: ", r.notes().c_str());
                  if (!r.outcome_reason().empty())
                    std::printf("      %s\n", r.outcome_reason().c_str());
                }
              });
}

// grpc.health.v1.Health/Check for the whole server (empty service name), by its wire bytes:
// the answer's field 1 is the status (1 SERVING, 2 NOT_SERVING). No token is needed.
int Health(const std::string& target, const Options& options) {
  absl::Duration timeout;
  if (!absl::ParseDuration(options.timeout, &timeout)) timeout = absl::Seconds(5);
  grpc::GenericStub stub(NewChannel(target, options));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::Slice empty(std::string{});  // HealthCheckRequest{service: ""}: no bytes
  grpc::ByteBuffer request(&empty, 1), response;
  grpc::Status status;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) {
    std::fprintf(stderr, "rolloutctl: health %s: %s: %s\n", target.c_str(),
                 metrics::StatusCodeName(status.error_code()), status.error_message().c_str());
    return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                   status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
               ? kUnreachable
               : kRejected;
  }
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  const bool serving = bytes == std::string("\x08\x01", 2);
  std::printf("%s\n", serving ? "SERVING" : "NOT_SERVING");
  return serving ? kOk : kRejected;
}
}  // namespace

std::vector<Verb> AdminVerbs() {
  return {
      {"status", "generation, routes, traffic and endpoint health", "rolloutctl status --json",
       nullptr, [](Client& c, const Args&) { return ShowRoutes(c, 30, /*with_pools=*/true); }},
      {"routes", "the routes and their splits", "rolloutctl routes --window 10",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("--window", a->window, "traffic window in seconds (1..60)")
             ->capture_default_str();
       },
       [](Client& c, const Args& a) { return ShowRoutes(c, a.window, /*with_pools=*/false); }},
      {"set-weight", "replace a route's split",
       "rolloutctl set-weight infer v1=90 v2=10 --reason \"canary to 10%\" "
       "--expected-generation 7",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("route", a->route, "route name")->required();
         cmd->add_option("weights", a->assignments, "POOL=WEIGHT ...")->required();
         AddReason(cmd, a, /*required=*/true);
         cmd->add_option("--expected-generation", a->expected_generation,
                         "apply only if the generation is still this one");
       },
       SetWeight},
      {"reload", "re-read the config file", "rolloutctl reload --reason \"new pool v3\"",
       [](CLI::App* cmd, Args* a) { AddReason(cmd, a, /*required=*/false); }, Reload},
      {"audit", "read the audit log", "rolloutctl audit --route infer --limit 20",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("--route", a->route, "only this route");
         cmd->add_option("--since", a->since, "RFC 3339 time");
         cmd->add_option("--until", a->until, "RFC 3339 time");
         cmd->add_option("--limit", a->limit, "entries per page")->capture_default_str();
         cmd->add_option("--page-token", a->page_token, "continue from a previous page");
       },
       Audit},
      {"history", "release records, oldest first", "rolloutctl history infer",
       [](CLI::App* cmd, Args* a) { cmd->add_option("route", a->route, "only this route"); },
       History},
      {"health", "ask a proxy's data port for grpc.health.v1 status (exit 0 only if SERVING)",
       "rolloutctl health --target 127.0.0.1:8500",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("--target", a->health_target, "data plane host:port")
             ->capture_default_str();
       },
       [](Client& c, const Args& a) { return Health(a.health_target, c.options()); }},
  };
}

}  // namespace rollout::ctl
