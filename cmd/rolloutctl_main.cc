// rolloutctl: the admin CLI of rollout-proxy.
//
//   rolloutctl --admin 127.0.0.1:8501 --token-file ~/.rollout-token status
//   rolloutctl set-weight infer v1=90 v2=10 --reason "canary to 10%" [--expected-generation 7]
//   rolloutctl reload --reason "new pool v3"
//   rolloutctl audit --route infer --limit 20
//   rolloutctl --json routes
//
// Exit codes: 0 ok, 1 rejected by the proxy, 2 usage error, 3 proxy unreachable.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "metrics/status_code_name.h"
#include "rollout/admin/v1/admin.grpc.pb.h"

namespace {

namespace v1 = rollout::admin::v1;

constexpr int kOk = 0, kRejected = 1, kUsage = 2, kUnreachable = 3;

struct Options {
  std::string admin = "127.0.0.1:8501";
  std::string token_file;
  bool json = false;
  std::string timeout = "5s";
};

class Client {
 public:
  Client(const Options& options, std::string token)
      : options_(options),
        token_(std::move(token)),
        stub_(v1::AdminService::NewStub(
            grpc::CreateChannel(options.admin, grpc::InsecureChannelCredentials()))) {}

  std::unique_ptr<grpc::ClientContext> Context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    absl::Duration timeout;
    if (!absl::ParseDuration(options_.timeout, &timeout)) timeout = absl::Seconds(5);
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
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
    for (const auto& w : route->split()) {
      const Traffic t = TrafficOf(*route, w.pool());
      lines.push_back(absl::StrFormat(
          "%s %s gen %d step - pool %-10s share %6.2f%%  %8.1f rps  errors %6.2f%%  p99 %8.2fms",
          now, route_name, response.generation(), w.pool(), 100 * w.share(), t.rps, t.error_percent,
          t.p99_ms));
    }
    if (tty && drawn > 0) std::printf("\x1b[%dA\x1b[J", drawn);  // up, then clear below
    for (const std::string& line : lines) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    drawn = static_cast<int>(lines.size());
  }
  return kOk;
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

  CLI::App* rollout = app.add_subcommand("rollout", "rollouts (the engine is not built yet)");
  rollout->require_subcommand(1);
  for (const char* verb : {"start", "pause", "resume", "promote", "abort", "get"}) {
    CLI::App* sub = rollout->add_subcommand(verb, std::string(verb) + " a rollout");
    sub->add_option("route", route, "route name")->required();
    sub->add_option("--reason", reason, "why (recorded in the audit log)");
    sub->allow_extras();
  }
  CLI::App* watch = rollout->add_subcommand(
      "watch", "live view of a route: weights, and each pool's rps, error rate and p99");
  std::string interval = "1s";
  int count = 0;
  watch->add_option("route", route, "route name")->required();
  watch->add_option("--interval", interval, "refresh period")->capture_default_str();
  watch->add_option("--count", count, "stop after this many refreshes (0: until interrupted)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
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
  // rollout VERB ROUTE
  CLI::App* verb = rollout->get_subcommands().front();
  v1::RolloutRequest request;
  request.set_route(route);
  request.set_reason(reason);
  v1::Rollout response;
  auto ctx = client.Context();
  grpc::Status s;
  const std::string name = verb->get_name();
  if (name == "start") {
    v1::StartRolloutRequest start;
    start.set_route(route);
    start.set_reason(reason);
    s = client.stub().StartRollout(ctx.get(), start, &response);
  } else if (name == "pause") {
    s = client.stub().PauseRollout(ctx.get(), request, &response);
  } else if (name == "resume") {
    s = client.stub().ResumeRollout(ctx.get(), request, &response);
  } else if (name == "promote") {
    s = client.stub().PromoteRollout(ctx.get(), request, &response);
  } else if (name == "abort") {
    s = client.stub().AbortRollout(ctx.get(), request, &response);
  } else if (name == "get") {
    s = client.stub().GetRollout(ctx.get(), request, &response);
  } else {
    s = client.stub().GetRollout(ctx.get(), request, &response);
  }
  if (!s.ok()) return client.Fail(s, *ctx);
  client.PrintJson(response);
  return kOk;
}
