// The verbs of `rollout`: start, pause, resume, promote, abort, get, events and watch.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cmd/rolloutctl/print.h"
#include "cmd/rolloutctl/verbs.h"

namespace rollout::ctl {
namespace {

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

// Splits "5,25,50" into numbers; false on anything else.
bool ParseSteps(const std::string& text, std::vector<double>* out) {
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    double v = 0;
    if (!absl::SimpleAtod(part, &v)) return false;
    out->push_back(v);
  }
  return !out->empty();
}

void AddStartFlags(CLI::App* start, StartFlags* f) {
  start->add_option("--strategy", f->strategy, "canary | blue_green | ab_test | shadow")
      ->capture_default_str();
  start->add_option("--stable", f->stable, "the pool or version serving now")->required();
  start->add_option("--candidate", f->candidate, "the pool or version being released")->required();
  start->add_option("--steps", f->steps, "canary: candidate percentages, e.g. 5,25,50,100");
  start->add_option("--interval", f->interval, "analysis interval (default 30s)");
  start->add_option("--min-requests", f->min_requests, "per window; below it a step holds");
  start->add_option("--max-error-rate", f->max_error_rate, "fraction, e.g. 0.01");
  start->add_option("--max-error-rate-increase", f->max_error_rate_increase,
                    "over stable, fraction");
  start->add_option("--max-p99", f->max_p99, "absolute p99, e.g. 250ms");
  start->add_option("--max-p99-ratio", f->max_p99_ratio, "candidate p99 / stable p99");
  start->add_option("--max-first-message-p99", f->max_first_message_p99,
                    "streams: p99 time to the first response message, e.g. 500ms");
  start->add_option("--max-first-message-p99-ratio", f->max_first_message_p99_ratio,
                    "streams: that p99 over stable's");
  start->add_option("--max-message-gap-p99", f->max_message_gap_p99,
                    "streams: p99 time between later messages, e.g. 50ms");
  start->add_option("--max-message-gap-p99-ratio", f->max_message_gap_p99_ratio,
                    "streams: that p99 over stable's");
  start->add_option("--max-mismatch-rate", f->max_mismatch_rate, "shadow disagreement, fraction");
  start->add_option("--failure-limit", f->failure_limit, "failed analyses in a row that abort");
  start->add_option("--inconclusive-limit", f->inconclusive_limit,
                    "holds in a row that stop it for a person to decide (default 10)");
  start->add_option("--mirror-percent", f->mirror_percent, "blue_green preview / shadow");
  start->add_option("--rollback-window", f->rollback_window, "blue_green (default 5m)");
  start->add_option("--duration", f->duration, "ab_test: how long");
  start->add_option("--sample-size", f->sample_size, "ab_test: calls per arm");
  start->add_option("--alpha", f->alpha,
                    "the chance of a wrong verdict per rollout: a good candidate aborted, or a "
                    "wrong A/B verdict (default 0.05)");
  start->add_flag("--auto-promote", f->auto_promote,
                  "ab_test: promote once no worse on every metric, abort once worse");
  start->add_option("--non-inferiority-margin", f->non_inferiority_margin,
                    "ab_test: error-rate increase still counted as no worse (default 0.005)");
  start->add_option("--latency-margin", f->latency_margin,
                    "ab_test: increase in the share of calls slower than stable's median still "
                    "counted as no worse (default 0.05)");
  start->add_option("--notes", f->notes, "release notes, kept in the release record");
  start->add_option("--start-at", f->start_at, "RFC 3339 time: wait until then (scheduled)");
  start->add_option("--window", f->window,
                    "steps advance only inside it, e.g. \"mon-fri 02:00-06:00 UTC\"");
  start->add_flag("--approval", f->approval, "hold before step 1 for rolloutctl rollout approve");
  start->add_option("--approval-webhook", f->approval_webhook,
                    "ask this URL to approve the release before step 1");
  start->add_option("--approval-timeout", f->approval_timeout,
                    "no approval by then aborts (default 1h)");
  start->add_option("--load-test", f->load_test,
                    "replay a sample of the route's requests to the candidate alone for this "
                    "long before step 1, judged on the thresholds, e.g. 30s");
  start->add_option("--load-test-rate", f->load_test_rate, "load test calls a second (default 20)");
  start->add_option("--load-test-sample", f->load_test_sample,
                    "requests the load test copies (default 100)");
  start->add_option("--load-test-timeout", f->load_test_timeout,
                    "no request to sample by then aborts (default 5m)");
  start->add_option("--compatibility", f->compatibility,
                    "auto | schema | none: compare the models' tensors before any traffic");
}

// `text` of `flag` as seconds into `*seconds`, left as is when `text` is empty. Prints the
// problem and returns false when it is not a duration above 0 (or 0 itself, with zero_ok).
bool Seconds(const char* flag, const std::string& text, double* seconds, bool zero_ok = false) {
  if (text.empty()) return true;
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration() ||
      (!zero_ok && d == absl::ZeroDuration())) {
    std::fprintf(stderr, "rolloutctl: %s: \"%s\" is not a duration (e.g. 10s, 5m)\n", flag,
                 text.c_str());
    return false;
  }
  *seconds = absl::ToDoubleSeconds(d);
  return true;
}

// The gates' flags into `q`; false on a bad value.
bool BuildGates(const StartFlags& f, v1::StartRolloutRequest* q) {
  q->set_compatibility(f.compatibility);
  double s = 0;
  if (f.approval || !f.approval_webhook.empty()) {
    q->mutable_approval()->set_required(true);
    q->mutable_approval()->set_webhook(f.approval_webhook);
    if (!f.approval_timeout.empty()) {
      if (!Seconds("--approval-timeout", f.approval_timeout, &s)) return false;
      q->mutable_approval()->set_timeout_seconds(s);
    }
  }
  if (!f.load_test.empty()) {
    if (!Seconds("--load-test", f.load_test, &s)) return false;
    v1::LoadTest* t = q->mutable_load_test();
    t->set_duration_seconds(s);
    t->set_rate(f.load_test_rate);
    t->set_sample(f.load_test_sample);
    if (!f.load_test_timeout.empty()) {
      if (!Seconds("--load-test-timeout", f.load_test_timeout, &s)) return false;
      t->set_timeout_seconds(s);
    }
  }
  return true;
}

// Fills `q` from the flags; prints the problem and returns false on a bad value.
bool BuildStart(const StartFlags& f, v1::StartRolloutRequest* q) {
  q->set_strategy(f.strategy);
  q->set_stable(f.stable);
  q->set_candidate(f.candidate);
  q->set_start_at(f.start_at);
  if (!BuildGates(f, q)) return false;
  if (!f.window.empty()) {
    std::vector<std::string> parts = absl::StrSplit(f.window, ' ', absl::SkipEmpty());
    if (parts.size() < 2 || parts.size() > 3) {
      std::fprintf(stderr,
                   "rolloutctl: --window: \"%s\" is not DAYS HOURS [TIMEZONE], e.g. "
                   "\"mon-fri 02:00-06:00 UTC\"\n",
                   f.window.c_str());
      return false;
    }
    q->mutable_window()->set_days(parts[0]);
    q->mutable_window()->set_hours(parts[1]);
    if (parts.size() == 3) q->mutable_window()->set_timezone(parts[2]);
  }
  if (!f.steps.empty()) {
    std::vector<double> steps;
    if (!ParseSteps(f.steps, &steps)) {
      std::fprintf(stderr, "rolloutctl: --steps: \"%s\" is not a list like 5,25,50\n",
                   f.steps.c_str());
      return false;
    }
    for (double v : steps) q->add_steps(v);
  }
  double v = 0;
  if (!Seconds("--interval", f.interval, &v, /*zero_ok=*/true)) return false;
  q->set_interval_seconds(v);
  v = 0;
  if (!Seconds("--rollback-window", f.rollback_window, &v, /*zero_ok=*/true)) return false;
  q->set_rollback_window_seconds(v);
  v = 0;
  if (!Seconds("--duration", f.duration, &v, /*zero_ok=*/true)) return false;
  q->set_duration_seconds(v);
  if (!f.max_p99.empty()) {
    if (!Seconds("--max-p99", f.max_p99, &v, /*zero_ok=*/true)) return false;
    q->set_max_p99_seconds(v);
  }
  if (!f.max_first_message_p99.empty()) {
    if (!Seconds("--max-first-message-p99", f.max_first_message_p99, &v, /*zero_ok=*/true))
      return false;
    q->set_max_first_message_p99_seconds(v);
  }
  if (!f.max_message_gap_p99.empty()) {
    if (!Seconds("--max-message-gap-p99", f.max_message_gap_p99, &v, /*zero_ok=*/true))
      return false;
    q->set_max_message_gap_p99_seconds(v);
  }
  if (f.max_first_message_p99_ratio) {
    q->set_max_first_message_p99_ratio(*f.max_first_message_p99_ratio);
  }
  if (f.max_message_gap_p99_ratio) q->set_max_message_gap_p99_ratio(*f.max_message_gap_p99_ratio);
  q->set_min_requests(f.min_requests);
  if (f.max_error_rate) q->set_max_error_rate(*f.max_error_rate);
  if (f.max_error_rate_increase) q->set_max_error_rate_increase(*f.max_error_rate_increase);
  if (f.max_p99_ratio) q->set_max_p99_ratio(*f.max_p99_ratio);
  if (f.max_mismatch_rate) q->set_max_mismatch_rate(*f.max_mismatch_rate);
  q->set_failure_limit(f.failure_limit);
  q->set_inconclusive_limit(f.inconclusive_limit);
  q->set_mirror_percent(f.mirror_percent);
  q->set_sample_size(f.sample_size);
  q->set_alpha(f.alpha);
  q->set_auto_promote(f.auto_promote);
  if (f.non_inferiority_margin) q->set_non_inferiority_margin(*f.non_inferiority_margin);
  if (f.latency_margin) q->set_latency_margin(*f.latency_margin);
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
                    event.rollout().strategy().c_str(), StableName(event.rollout()).c_str(),
                    CandidateName(event.rollout()).c_str(), event.rollout().phase().c_str(),
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

// A rollout after a verb acted on it: the rollout, and the decision the verb made.
void PrintBrief(const v1::Rollout& response) {
  v1::Rollout brief = response;
  brief.clear_decisions();
  PrintRollout(brief);
  if (response.decisions_size() > 0) PrintDecision(*response.decisions().rbegin());
}

int Start(Client& client, const Args& a) {
  v1::StartRolloutRequest q;
  q.set_route(a.route);
  q.set_reason(a.reason);
  if (!BuildStart(a.start, &q)) return kUsage;
  return Call(client, &v1::AdminService::Stub::StartRollout, q, PrintBrief);
}

using StubVerb = grpc::Status (v1::AdminService::Stub::*)(grpc::ClientContext*,
                                                          const v1::RolloutRequest&, v1::Rollout*);

// pause, resume, promote, abort: the route's rollout, and why.
Verb Act(const char* name, StubVerb call) {
  return {absl::StrCat("rollout ", name), absl::StrCat(name, " the route's rollout"),
          absl::StrCat("rolloutctl rollout ", name, " infer --reason \"", name, " by hand\""),
          [](CLI::App* cmd, Args* a) {
            cmd->add_option("route", a->route, "route name")->required();
            cmd->add_option("--reason", a->reason, "why (recorded in the audit log)");
          },
          [call](Client& client, const Args& a) {
            v1::RolloutRequest request;
            request.set_route(a.route);
            request.set_reason(a.reason);
            return Call(client, call, request, PrintBrief);
          }};
}

int Get(Client& client, const Args& a) {
  if (a.route.empty() && a.id == 0) {
    std::fprintf(stderr, "rolloutctl: rollout get: give a route or --id\n");
    return kUsage;
  }
  v1::RolloutRequest request;
  request.set_route(a.route);
  request.set_id(a.id);
  return Call(client, &v1::AdminService::Stub::GetRollout, request, PrintRollout);
}

}  // namespace

std::vector<Verb> RolloutVerbs() {
  return {
      {"rollout", "start and steer rollouts", "rolloutctl rollout get infer", nullptr, nullptr},
      {"rollout start", "start a rollout on a route",
       "rolloutctl rollout start infer --strategy canary --stable v1 --candidate v2 "
       "--steps 5,25,50,100 --interval 10s --max-error-rate 0.01 --max-p99-ratio 1.5",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("route", a->route, "route name")->required();
         cmd->add_option("--reason", a->reason, "why (recorded in the audit log)");
         AddStartFlags(cmd, &a->start);
       },
       Start},
      Act("pause", &v1::AdminService::Stub::PauseRollout),
      Act("resume", &v1::AdminService::Stub::ResumeRollout),
      Act("promote", &v1::AdminService::Stub::PromoteRollout),
      Act("abort", &v1::AdminService::Stub::AbortRollout),
      Act("approve", &v1::AdminService::Stub::ApproveRollout),
      {"rollout get", "a rollout in full, with every decision", "rolloutctl rollout get infer",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("route", a->route, "route name (its active rollout, else its latest)");
         cmd->add_option("--id", a->id, "this release instead");
       },
       Get},
      {"rollout events", "stream a route's rollout decisions as they are made",
       "rolloutctl rollout events infer --until-done",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("route", a->route, "route name")->required();
         cmd->add_flag("--until-done", a->until_done,
                       "stop when the running rollout ends: exit 0 if promoted, 1 if aborted");
       },
       [](Client& c, const Args& a) { return Events(c, a.route, a.until_done); }},
      {"rollout watch", "live view of a route: weights, and each pool's rps, error rate and p99",
       "rolloutctl rollout watch infer --interval 2s",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("route", a->route, "route name")->required();
         cmd->add_option("--interval", a->interval, "refresh period")->capture_default_str();
         cmd->add_option("--count", a->count,
                         "stop after this many refreshes (0: until interrupted)");
       },
       [](Client& c, const Args& a) { return Watch(c, a.route, a.interval, a.count); }},
  };
}

}  // namespace rollout::ctl
