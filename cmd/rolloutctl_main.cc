// rolloutctl: the admin CLI of rollout-proxy.
//
//   rolloutctl --admin 127.0.0.1:8501 --token-file ~/.rollout-token status
//   rolloutctl set-weight infer v1=90 v2=10 --reason "canary to 10%" [--expected-generation 7]
//   rolloutctl reload --reason "new pool v3"
//   rolloutctl audit --route infer --limit 20
//   rolloutctl --json routes
//   rolloutctl rollout start infer --strategy canary --stable v1 --candidate v2
//       --steps 5,25,50,100 --interval 10s --min-requests 100 --max-error-rate 0.01
//       --max-p99-ratio 1.5 --failure-limit 2 --notes "v2: retrained on May data"
//   rolloutctl rollout get infer           the rollout with every decision
//   rolloutctl rollout events infer --until-done
//   rolloutctl history infer
//
// Exit codes: 0 ok, 1 rejected by the proxy, 2 usage error, 3 proxy unreachable.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "metrics/status_code_name.h"
#include "proxy/tls_credentials.h"
#include "rollout/admin/v1/admin.grpc.pb.h"
#include "routing/tls_spec.h"

namespace {

namespace v1 = rollout::admin::v1;

constexpr int kOk = 0, kRejected = 1, kUsage = 2, kUnreachable = 3;

struct Options {
  std::string admin = "127.0.0.1:8501";
  std::string token_file;
  bool json = false;
  std::string timeout = "5s";
  rollout::routing::UpstreamTlsSpec tls;  // --tls*: TLS (mTLS with a certificate) to the proxy
};

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target, const Options& options) {
  grpc::ChannelArguments args;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      rollout::proxy::ChannelCredentials(options.tls, &args);
  return grpc::CreateCustomChannel(target, credentials, args);
}

class Client {
 public:
  Client(const Options& options, std::string token)
      : options_(options),
        token_(std::move(token)),
        stub_(v1::AdminService::NewStub(NewChannel(options.admin, options))) {}

  // A context with the token and, unless it is for a stream, the --timeout deadline.
  std::unique_ptr<grpc::ClientContext> Context(bool deadline = true) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    absl::Duration timeout;
    if (!absl::ParseDuration(options_.timeout, &timeout)) timeout = absl::Seconds(5);
    if (deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
    return ctx;
  }
  v1::AdminService::Stub& stub() { return *stub_; }

  // Prints the error (text on stderr; JSON on stdout with --json) and returns the exit code.
  int Fail(const grpc::Status& status, const grpc::ClientContext& ctx) const {
    const bool unreachable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                             status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    std::string generation;
    auto it = ctx.GetServerTrailingMetadata().find("x-rollout-generation");
    if (it != ctx.GetServerTrailingMetadata().end()) {
      generation.assign(it->second.data(), it->second.size());
    }
    if (options_.json) {
      std::printf("{\"error\":{\"code\":\"%s\",\"message\":%s%s}}\n",
                  rollout::metrics::StatusCodeName(status.error_code()),
                  Quote(status.error_message()).c_str(),
                  generation.empty() ? "" : (",\"generation\":" + generation).c_str());
    }
    std::fprintf(stderr, "rolloutctl: %s: %s\n",
                 rollout::metrics::StatusCodeName(status.error_code()),
                 status.error_message().c_str());
    if (unreachable) {
      std::fprintf(stderr, "rolloutctl: is rollout-proxy's admin API listening on %s?\n",
                   options_.admin.c_str());
    }
    return unreachable ? kUnreachable : kRejected;
  }

  void PrintJson(const google::protobuf::Message& message) const {
    std::string out;
    google::protobuf::util::JsonPrintOptions print;
    print.add_whitespace = true;
    print.always_print_primitive_fields = true;
    print.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(message, &out, print);
    std::printf("%s", out.c_str());
  }
  bool json() const { return options_.json; }

 private:
  static std::string Quote(const std::string& s) {
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

  const Options& options_;
  std::string token_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

// One pool's traffic in a route's window, as people read it.
struct Traffic {
  bool known = false;
  double rps = 0;
  double error_percent = 0;  // server errors over answered (not cancelled) calls
  double p50_ms = 0, p99_ms = 0;
};

Traffic TrafficOf(const v1::Route& route, const std::string& pool) {
  Traffic out;
  for (const auto& t : route.traffic()) {
    if (t.pool() != pool || t.window_seconds() <= 0) continue;
    const double answered = static_cast<double>(t.requests() - t.cancelled());
    out = {true, t.requests() / t.window_seconds(),
           answered > 0 ? 100 * t.server_errors() / answered : 0.0, 1e3 * t.p50_seconds(),
           1e3 * t.p99_seconds()};
  }
  return out;
}

void PrintRoutes(const google::protobuf::RepeatedPtrField<v1::Route>& routes) {
  for (const v1::Route& route : routes) {
    std::printf("route %s  (%s)  weights from %s\n", route.name().c_str(),
                route.method_prefix().empty() ? "all methods" : route.method_prefix().c_str(),
                route.weights_source().c_str());
    if (route.has_rollout()) {
      const v1::Rollout& r = route.rollout();
      std::printf("  rollout #%llu %s %s -> %s: %s, step %u/%u, %s at %g%%\n",
                  static_cast<unsigned long long>(r.id()), r.strategy().c_str(), r.stable().c_str(),
                  r.candidate().c_str(), r.phase().c_str(), r.step(), r.total_steps(),
                  r.candidate().c_str(), r.candidate_percent());
    }
    if (!route.active_pool().empty())
      std::printf("  active version: %s\n", route.active_pool().c_str());
    std::printf("  %-12s %10s %8s %9s %8s %9s %9s\n", "pool", "weight", "share", "rps", "errors",
                "p50", "p99");
    for (const v1::PoolWeight& w : route.split()) {
      const Traffic t = TrafficOf(route, w.pool());
      if (!t.known) {
        std::printf("  %-12s %10g %7.2f%% %9s %8s %9s %9s\n", w.pool().c_str(), w.weight(),
                    100 * w.share(), "-", "-", "-", "-");
        continue;
      }
      std::printf("  %-12s %10g %7.2f%% %9.1f %7.2f%% %7.2fms %7.2fms\n", w.pool().c_str(),
                  w.weight(), 100 * w.share(), t.rps, t.error_percent, t.p50_ms, t.p99_ms);
    }
  }
}

void PrintPools(const google::protobuf::RepeatedPtrField<v1::Pool>& pools) {
  for (const v1::Pool& pool : pools) {
    std::printf("pool %s:", pool.name().c_str());
    for (const auto& e : pool.endpoints()) {
      std::printf(" %s (%s)", e.address().c_str(), e.healthy() ? "healthy" : "UNHEALTHY");
    }
    std::printf("\n");
  }
}

// Polls ListRoutes and shows one route. On a terminal the display is redrawn in place;
// otherwise each refresh prints plain lines, one per pool, prefixed with the time.
int Watch(Client& client, const std::string& route_name, const std::string& interval_text,
          int count) {
  absl::Duration interval;
  if (!absl::ParseDuration(interval_text, &interval) || interval <= absl::ZeroDuration()) {
    std::fprintf(stderr, "rolloutctl: --interval: \"%s\" is not a positive duration\n",
                 interval_text.c_str());
    return kUsage;
  }
  const bool tty = isatty(STDOUT_FILENO) && !client.json();
  int drawn = 0;  // lines of the previous frame, to redraw over
  for (int i = 0; count == 0 || i < count; ++i) {
    if (i > 0) absl::SleepFor(interval);
    v1::ListRoutesRequest request;
    request.set_window_seconds(std::clamp(absl::ToDoubleSeconds(interval) * 5, 1.0, 60.0));
    v1::ListRoutesResponse response;
    auto ctx = client.Context();
    grpc::Status s = client.stub().ListRoutes(ctx.get(), request, &response);
    if (!s.ok()) return client.Fail(s, *ctx);
    const v1::Route* route = nullptr;
    for (const auto& r : response.routes()) {
      if (r.name() == route_name) route = &r;
    }
    if (route == nullptr) {
      std::fprintf(stderr, "rolloutctl: unknown route \"%s\"\n", route_name.c_str());
      return kRejected;
    }
    if (client.json()) {
      client.PrintJson(*route);
      continue;
    }
    const std::string now = absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone());
    std::vector<std::string> lines;
    // The rollout's step and phase while one runs on the route; "-" otherwise.
    std::string step = "-";
    if (route->has_rollout() && route->rollout().outcome() == "in_progress") {
      step = absl::StrFormat("%d/%d %s", route->rollout().step(), route->rollout().total_steps(),
                             route->rollout().phase());
    }
    for (const auto& w : route->split()) {
      const Traffic t = TrafficOf(*route, w.pool());
      lines.push_back(absl::StrFormat(
          "%s %s gen %d step %s pool %-10s share %6.2f%%  %8.1f rps  errors %6.2f%%  p99 %8.2fms",
          now, route_name, response.generation(), step, w.pool(), 100 * w.share(), t.rps,
          t.error_percent, t.p99_ms));
    }
    if (tty && drawn > 0) std::printf("\x1b[%dA\x1b[J", drawn);  // up, then clear below
    for (const std::string& line : lines) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    drawn = static_cast<int>(lines.size());
  }
  return kOk;
}

// An RFC 3339 time from the API as people read it: local time, to the second. `format`
// is absl::FormatTime's.
std::string Local(const std::string& rfc3339, const char* format = "%Y-%m-%d %H:%M:%S") {
  absl::Time t;
  std::string err;
  if (rfc3339.empty() || !absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) return rfc3339;
  return absl::FormatTime(format, t, absl::LocalTimeZone());
}

// One line per decision, as people read it.
void PrintDecision(const v1::Decision& d) {
  std::printf("  %s  step %u  %-8s %-14s %s\n", Local(d.time()).c_str(), d.step(), d.kind().c_str(),
              d.actor().c_str(), d.detail().c_str());
}

void PrintRollout(const v1::Rollout& r) {
  std::printf("rollout #%llu on %s: %s %s -> %s, %s, step %u/%u, %s at %g%%\n",
              static_cast<unsigned long long>(r.id()), r.route().c_str(), r.strategy().c_str(),
              r.stable().c_str(), r.candidate().c_str(), r.phase().c_str(), r.step(),
              r.total_steps(), r.candidate().c_str(), r.candidate_percent());
  std::printf("  started %s by %s (%s)%s%s\n", Local(r.start_time()).c_str(),
              r.started_by().c_str(), r.source().c_str(), r.reason().empty() ? "" : ": ",
              r.reason().c_str());
  if (!r.notes().empty()) std::printf("  notes: %s\n", r.notes().c_str());
  if (!r.next_analysis_time().empty()) {
    std::printf("  next analysis %s, failures in a row %u\n", Local(r.next_analysis_time()).c_str(),
                r.consecutive_failures());
  }
  if (r.outcome() != "in_progress") {
    std::printf("  %s at %s: %s\n", r.outcome().c_str(), Local(r.end_time()).c_str(),
                r.outcome_reason().c_str());
  }
  for (const v1::Decision& d : r.decisions()) PrintDecision(d);
}

// Splits "5,25,50" into numbers; false on anything else.
bool ParseSteps(const std::string& text, std::vector<double>* out) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    double v = 0;
    if (!absl::SimpleAtod(part, &v)) return false;
    out->push_back(v);
  }
  return !out->empty();
}

// The flags of `rollout start` (the same names as the config's keys, with dashes).
struct StartFlags {
  std::string strategy = "canary", stable, candidate, steps, interval, max_p99, rollback_window,
              duration, notes;
  uint64_t min_requests = 0, sample_size = 0;
  uint32_t failure_limit = 0;
  double mirror_percent = 0, alpha = 0;
  std::optional<double> max_error_rate, max_error_rate_increase, max_p99_ratio, max_mismatch_rate;
  bool auto_promote = false;
};

void AddStartFlags(CLI::App* start, StartFlags* f) {
  start->add_option("--strategy", f->strategy, "canary | blue_green | ab_test | shadow")
      ->capture_default_str();
  start->add_option("--stable", f->stable, "the pool serving now")->required();
  start->add_option("--candidate", f->candidate, "the pool being released")->required();
  start->add_option("--steps", f->steps, "canary: candidate percentages, e.g. 5,25,50,100");
  start->add_option("--interval", f->interval, "analysis interval (default 30s)");
  start->add_option("--min-requests", f->min_requests, "per window; below it a step holds");
  start->add_option("--max-error-rate", f->max_error_rate, "fraction, e.g. 0.01");
  start->add_option("--max-error-rate-increase", f->max_error_rate_increase,
                    "over stable, fraction");
  start->add_option("--max-p99", f->max_p99, "absolute p99, e.g. 250ms");
  start->add_option("--max-p99-ratio", f->max_p99_ratio, "candidate p99 / stable p99");
  start->add_option("--max-mismatch-rate", f->max_mismatch_rate, "shadow disagreement, fraction");
  start->add_option("--failure-limit", f->failure_limit, "failed analyses in a row that abort");
  start->add_option("--mirror-percent", f->mirror_percent, "blue_green preview / shadow");
  start->add_option("--rollback-window", f->rollback_window, "blue_green (default 5m)");
  start->add_option("--duration", f->duration, "ab_test: how long");
  start->add_option("--sample-size", f->sample_size, "ab_test: calls per arm");
  start->add_option("--alpha", f->alpha, "ab_test significance level (default 0.05)");
  start->add_flag("--auto-promote", f->auto_promote, "ab_test: act on the verdict");
  start->add_option("--notes", f->notes, "release notes, kept in the release record");
}

// Fills `q` from the flags; prints the problem and returns false on a bad value.
bool BuildStart(const StartFlags& f, v1::StartRolloutRequest* q) {
  q->set_strategy(f.strategy);
  q->set_stable(f.stable);
  q->set_candidate(f.candidate);
  if (!f.steps.empty()) {
    std::vector<double> steps;
    if (!ParseSteps(f.steps, &steps)) {
      std::fprintf(stderr, "rolloutctl: --steps: \"%s\" is not a list like 5,25,50\n",
                   f.steps.c_str());
      return false;
    }
    for (double v : steps) q->add_steps(v);
  }
  auto seconds = [](const std::string& text, const char* flag, double* out) {
    if (text.empty()) return true;
    absl::Duration d;
    if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
      std::fprintf(stderr, "rolloutctl: %s: \"%s\" is not a duration (e.g. 10s, 5m)\n", flag,
                   text.c_str());
      return false;
    }
    *out = absl::ToDoubleSeconds(d);
    return true;
  };
  double v = 0;
  if (!seconds(f.interval, "--interval", &v)) return false;
  q->set_interval_seconds(v);
  v = 0;
  if (!seconds(f.rollback_window, "--rollback-window", &v)) return false;
  q->set_rollback_window_seconds(v);
  v = 0;
  if (!seconds(f.duration, "--duration", &v)) return false;
  q->set_duration_seconds(v);
  if (!f.max_p99.empty()) {
    if (!seconds(f.max_p99, "--max-p99", &v)) return false;
    q->set_max_p99_seconds(v);
  }
  q->set_min_requests(f.min_requests);
  if (f.max_error_rate) q->set_max_error_rate(*f.max_error_rate);
  if (f.max_error_rate_increase) q->set_max_error_rate_increase(*f.max_error_rate_increase);
  if (f.max_p99_ratio) q->set_max_p99_ratio(*f.max_p99_ratio);
  if (f.max_mismatch_rate) q->set_max_mismatch_rate(*f.max_mismatch_rate);
  q->set_failure_limit(f.failure_limit);
  q->set_mirror_percent(f.mirror_percent);
  q->set_sample_size(f.sample_size);
  q->set_alpha(f.alpha);
  q->set_auto_promote(f.auto_promote);
  q->set_notes(f.notes);
  return true;
}

// Streams the route's decisions. With until_done, stops when the rollout that is running
// (or the next one started) is promoted or aborted; exit 0 if promoted, 1 if aborted.
int Events(Client& client, const std::string& route, bool until_done) {
  auto ctx_ptr = client.Context(/*deadline=*/false);
  grpc::ClientContext& ctx = *ctx_ptr;
  v1::RolloutRequest request;
  request.set_route(route);
  auto reader = client.stub().WatchRollout(&ctx, request);
  v1::RolloutEvent event;
  uint64_t watching = 0;
  while (reader->Read(&event)) {
    if (client.json()) {
      client.PrintJson(event);
      std::printf("\n");
    } else if (event.decision() == "state") {
      if (event.rollout().id() != 0) {
        std::printf("%s #%llu %s %s -> %s: %s, step %u/%u\n",
                    Local(event.time(), "%H:%M:%S").c_str(),
                    static_cast<unsigned long long>(event.rollout().id()),
                    event.rollout().strategy().c_str(), event.rollout().stable().c_str(),
                    event.rollout().candidate().c_str(), event.rollout().phase().c_str(),
                    event.rollout().step(), event.rollout().total_steps());
      } else {
        std::printf("%s %s\n", Local(event.time(), "%H:%M:%S").c_str(), event.detail().c_str());
      }
    } else {
      std::printf("%s #%llu step %u/%u %-8s %s\n", Local(event.time(), "%H:%M:%S").c_str(),
                  static_cast<unsigned long long>(event.rollout().id()), event.rollout().step(),
                  event.rollout().total_steps(), event.decision().c_str(), event.detail().c_str());
    }
    std::fflush(stdout);
    const v1::Rollout& r = event.rollout();
    if (r.id() != 0 && r.outcome() == "in_progress") watching = r.id();
    if (until_done && watching != 0 && r.id() == watching && r.outcome() != "in_progress") {
      ctx.TryCancel();
      return r.outcome() == "promoted" ? kOk : kRejected;
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return client.Fail(s, ctx);
  return kOk;
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
                 rollout::metrics::StatusCodeName(status.error_code()),
                 status.error_message().c_str());
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

int main(int argc, char** argv) {
  CLI::App app{"rolloutctl: administer rollout-proxy (weights, reloads, audit log, rollouts)"};
  app.require_subcommand(1);
  Options options;
  app.add_option("--admin", options.admin, "admin API address")->capture_default_str();
  app.add_option("--token-file", options.token_file, "file holding only the bearer token");
  app.add_flag("--json", options.json, "print JSON instead of text");
  app.add_option("--timeout", options.timeout, "deadline of each call")->capture_default_str();
  bool tls = false;
  app.add_flag("--tls", tls, "use TLS (implied by the other --tls-* options)");
  app.add_option("--tls-ca", options.tls.ca_file, "CA of the proxy's certificate (PEM)");
  app.add_option("--tls-cert", options.tls.cert_file, "client certificate for mTLS (PEM)");
  app.add_option("--tls-key", options.tls.key_file, "its private key (PEM)");
  app.add_option("--tls-server-name", options.tls.server_name,
                 "name to check the proxy's certificate for (default: the host of the address)");
  app.footer("Exit codes: 0 ok, 1 rejected by the proxy, 2 usage error, 3 proxy unreachable.");

  CLI::App* status =
      app.add_subcommand("status", "generation, routes, traffic and endpoint health");
  CLI::App* routes = app.add_subcommand("routes", "the routes and their splits");
  double window = 30;
  routes->add_option("--window", window, "traffic window in seconds (1..60)")
      ->capture_default_str();

  CLI::App* set_weight = app.add_subcommand("set-weight", "replace a route's split");
  std::string route;
  std::vector<std::string> assignments;
  std::string reason;
  int64_t expected_generation = -1;
  set_weight->add_option("route", route, "route name")->required();
  set_weight->add_option("weights", assignments, "POOL=WEIGHT ...")->required();
  set_weight->add_option("--reason", reason, "why (recorded in the audit log)")->required();
  set_weight->add_option("--expected-generation", expected_generation,
                         "apply only if the generation is still this one");

  CLI::App* reload = app.add_subcommand("reload", "re-read the config file");
  reload->add_option("--reason", reason, "why (recorded in the audit log)");

  CLI::App* audit = app.add_subcommand("audit", "read the audit log");
  std::string since, until, page_token;
  uint32_t limit = 100;
  audit->add_option("--route", route, "only this route");
  audit->add_option("--since", since, "RFC 3339 time");
  audit->add_option("--until", until, "RFC 3339 time");
  audit->add_option("--limit", limit, "entries per page")->capture_default_str();
  audit->add_option("--page-token", page_token, "continue from a previous page");

  CLI::App* rollout = app.add_subcommand("rollout", "start and steer rollouts");
  rollout->require_subcommand(1);
  CLI::App* start = rollout->add_subcommand("start", "start a rollout on a route");
  start->add_option("route", route, "route name")->required();
  start->add_option("--reason", reason, "why (recorded in the audit log)");
  StartFlags start_flags;
  AddStartFlags(start, &start_flags);
  for (const char* verb : {"pause", "resume", "promote", "abort"}) {
    CLI::App* sub = rollout->add_subcommand(verb, std::string(verb) + " the route's rollout");
    sub->add_option("route", route, "route name")->required();
    sub->add_option("--reason", reason, "why (recorded in the audit log)");
  }
  CLI::App* get = rollout->add_subcommand("get", "a rollout in full, with every decision");
  uint64_t id = 0;
  get->add_option("route", route, "route name (its active rollout, else its latest)");
  get->add_option("--id", id, "this release instead");
  CLI::App* events =
      rollout->add_subcommand("events", "stream a route's rollout decisions as they are made");
  bool until_done = false;
  events->add_option("route", route, "route name")->required();
  events->add_flag("--until-done", until_done,
                   "stop when the running rollout ends: exit 0 if promoted, 1 if aborted");
  CLI::App* watch = rollout->add_subcommand(
      "watch", "live view of a route: weights, and each pool's rps, error rate and p99");
  std::string interval = "1s";
  int count = 0;
  watch->add_option("route", route, "route name")->required();
  watch->add_option("--interval", interval, "refresh period")->capture_default_str();
  watch->add_option("--count", count, "stop after this many refreshes (0: until interrupted)");
  CLI::App* health = app.add_subcommand(
      "health", "ask a proxy's data port for grpc.health.v1 status (exit 0 only if SERVING)");
  std::string health_target = "127.0.0.1:8500";
  health->add_option("--target", health_target, "data plane host:port")->capture_default_str();
  CLI::App* history = app.add_subcommand("history", "release records, oldest first");
  history->add_option("route", route, "only this route");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }

  options.tls.enabled = tls || !options.tls.ca_file.empty() || !options.tls.cert_file.empty() ||
                        !options.tls.key_file.empty() || !options.tls.server_name.empty();
  if (absl::Status s = rollout::routing::CheckUpstreamTls(options.tls); !s.ok()) {
    const std::string why = absl::StrReplaceAll(
        s.message(),
        {{"ca_file", "--tls-ca"}, {"cert_file", "--tls-cert"}, {"key_file", "--tls-key"}});
    std::fprintf(stderr, "rolloutctl: %s\n", why.c_str());
    return kUsage;
  }
  std::string token;
  if (!options.token_file.empty()) {
    std::ifstream in(options.token_file);
    if (!in) {
      std::fprintf(stderr, "rolloutctl: cannot read --token-file %s\n", options.token_file.c_str());
      return kUsage;
    }
    std::stringstream text;
    text << in.rdbuf();
    token = std::string(absl::StripAsciiWhitespace(text.str()));
  }
  Client client(options, token);

  if (*status || *routes) {
    v1::ListRoutesRequest request;
    request.set_window_seconds(*routes ? window : 30);
    v1::ListRoutesResponse response;
    auto ctx = client.Context();
    grpc::Status s = client.stub().ListRoutes(ctx.get(), request, &response);
    if (!s.ok()) return client.Fail(s, *ctx);
    if (client.json()) {
      client.PrintJson(response);
    } else {
      std::printf("generation %llu\n", static_cast<unsigned long long>(response.generation()));
      if (!response.replica_role().empty()) {
        std::printf("replica: %s (leader: %s)\n", response.replica_role().c_str(),
                    response.leader().c_str());
      }
      PrintRoutes(response.routes());
      if (*status) PrintPools(response.pools());
    }
    return kOk;
  }
  if (*set_weight) {
    v1::SetWeightsRequest request;
    request.set_route(route);
    request.set_reason(reason);
    if (expected_generation >= 0) request.set_expected_generation(expected_generation);
    for (const std::string& a : assignments) {
      std::vector<std::string> parts = absl::StrSplit(a, absl::MaxSplits('=', 1));
      double weight = 0;
      if (parts.size() != 2 || parts[0].empty() || !absl::SimpleAtod(parts[1], &weight)) {
        std::fprintf(stderr, "rolloutctl: set-weight: \"%s\" is not POOL=WEIGHT\n", a.c_str());
        return kUsage;
      }
      (*request.mutable_weights())[parts[0]] = weight;
    }
    v1::SetWeightsResponse response;
    auto ctx = client.Context();
    grpc::Status s = client.stub().SetWeights(ctx.get(), request, &response);
    if (!s.ok()) return client.Fail(s, *ctx);
    if (client.json()) {
      client.PrintJson(response);
    } else {
      std::printf("generation %llu\n", static_cast<unsigned long long>(response.generation()));
      google::protobuf::RepeatedPtrField<v1::Route> one;
      *one.Add() = response.route();
      PrintRoutes(one);
    }
    return kOk;
  }
  if (*reload) {
    v1::ReloadConfigRequest request;
    request.set_reason(reason);
    v1::ReloadConfigResponse response;
    auto ctx = client.Context();
    grpc::Status s = client.stub().ReloadConfig(ctx.get(), request, &response);
    if (!s.ok()) return client.Fail(s, *ctx);
    if (client.json()) {
      client.PrintJson(response);
    } else {
      std::printf("reloaded: generation %llu%s\n",
                  static_cast<unsigned long long>(response.generation()),
                  response.changed() ? "" : " (no change)");
      for (const auto& note : response.notes()) std::printf("  %s\n", note.c_str());
    }
    return kOk;
  }
  if (*audit) {
    v1::GetAuditLogRequest request;
    request.set_route(route);
    request.set_since(since);
    request.set_until(until);
    request.set_page_size(limit);
    request.set_page_token(page_token);
    v1::GetAuditLogResponse response;
    auto ctx = client.Context();
    grpc::Status s = client.stub().GetAuditLog(ctx.get(), request, &response);
    if (!s.ok()) return client.Fail(s, *ctx);
    if (client.json()) {
      client.PrintJson(response);
    } else {
      for (const auto& e : response.entries()) {
        std::printf("%s gen %llu %-8s %-12s %-8s %s -> %s  \"%s\"\n", e.time().c_str(),
                    static_cast<unsigned long long>(e.generation()), e.actor().c_str(),
                    e.verb().c_str(), e.route().empty() ? "-" : e.route().c_str(),
                    e.before().c_str(), e.after().c_str(), e.reason().c_str());
      }
      if (!response.next_page_token().empty()) {
        std::printf("more: --page-token %s\n", response.next_page_token().c_str());
      }
    }
    return kOk;
  }
  if (*watch) return Watch(client, route, interval, count);
  if (*health) return Health(health_target, options);
  if (*events) return Events(client, route, until_done);
  if (*history) {
    v1::ListReleasesRequest request;
    request.set_route(route);
    v1::ListReleasesResponse response;
    auto ctx = client.Context();
    grpc::Status s = client.stub().ListReleases(ctx.get(), request, &response);
    if (!s.ok()) return client.Fail(s, *ctx);
    if (client.json()) {
      client.PrintJson(response);
      return kOk;
    }
    for (const v1::Rollout& r : response.releases()) {
      std::printf("#%-4llu %-10s %-10s %s -> %s  %-11s %s .. %s  by %s%s%s\n",
                  static_cast<unsigned long long>(r.id()), r.route().c_str(), r.strategy().c_str(),
                  r.stable().c_str(), r.candidate().c_str(), r.outcome().c_str(),
                  Local(r.start_time()).c_str(),
                  r.end_time().empty() ? "now" : Local(r.end_time(), "%H:%M:%S").c_str(),
                  r.started_by().c_str(), r.notes().empty() ? "" : "  notes: ", r.notes().c_str());
      if (!r.outcome_reason().empty()) std::printf("      %s\n", r.outcome_reason().c_str());
    }
    return kOk;
  }
  // rollout VERB ROUTE
  CLI::App* verb = rollout->get_subcommands().front();
  const std::string name = verb->get_name();
  v1::RolloutRequest request;
  request.set_route(route);
  request.set_reason(reason);
  v1::Rollout response;
  auto ctx = client.Context();
  grpc::Status s;
  if (name == "start") {
    v1::StartRolloutRequest q;
    q.set_route(route);
    q.set_reason(reason);
    if (!BuildStart(start_flags, &q)) return kUsage;
    s = client.stub().StartRollout(ctx.get(), q, &response);
  } else if (name == "pause") {
    s = client.stub().PauseRollout(ctx.get(), request, &response);
  } else if (name == "resume") {
    s = client.stub().ResumeRollout(ctx.get(), request, &response);
  } else if (name == "promote") {
    s = client.stub().PromoteRollout(ctx.get(), request, &response);
  } else if (name == "abort") {
    s = client.stub().AbortRollout(ctx.get(), request, &response);
  } else {
    if (route.empty() && id == 0) {
      std::fprintf(stderr, "rolloutctl: rollout get: give a route or --id\n");
      return kUsage;
    }
    request.set_id(id);
    s = client.stub().GetRollout(ctx.get(), request, &response);
  }
  if (!s.ok()) return client.Fail(s, *ctx);
  if (client.json()) {
    client.PrintJson(response);
  } else if (name == "get") {
    PrintRollout(response);
  } else {
    v1::Rollout brief = response;
    brief.clear_decisions();
    PrintRollout(brief);
    if (response.decisions_size() > 0) PrintDecision(*response.decisions().rbegin());
  }
  return kOk;
}
