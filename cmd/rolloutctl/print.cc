#include "cmd/rolloutctl/print.h"

#include <cstdio>

#include "absl/time/time.h"

namespace rollout::ctl {

namespace {

std::string Side(const std::string& version, const std::string& pool) {
  if (version.empty() || version == pool) return pool;
  return version + " (pool " + pool + ")";
}

}  // namespace

std::string StableName(const v1::Rollout& r) { return Side(r.stable_version(), r.stable()); }
std::string CandidateName(const v1::Rollout& r) {
  return Side(r.candidate_version(), r.candidate());
}

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

namespace {

// The time to the first response message and between later ones, for the pools whose calls
// answered with any.
void PrintStreams(const v1::Route& route) {
  bool any = false;
  for (const auto& t : route.traffic()) any = any || t.first_messages() > 0;
  if (!any) return;
  std::printf("  %-12s %11s %11s %11s %11s\n", "messages", "first p50", "first p95", "first p99",
              "gap p99");
  for (const auto& t : route.traffic()) {
    if (t.first_messages() == 0) continue;
    std::printf("  %-12s %9.2fms %9.2fms %9.2fms %9.2fms\n", t.pool().c_str(),
                1e3 * t.first_message_p50_seconds(), 1e3 * t.first_message_p95_seconds(),
                1e3 * t.first_message_p99_seconds(), 1e3 * t.message_gap_p99_seconds());
  }
}

}  // namespace

void PrintRoutes(const google::protobuf::RepeatedPtrField<v1::Route>& routes) {
  for (const v1::Route& route : routes) {
    std::printf("route %s  (%s)  weights from %s\n", route.name().c_str(),
                route.method_prefix().empty() ? "all methods" : route.method_prefix().c_str(),
                route.weights_source().c_str());
    if (route.has_rollout()) {
      const v1::Rollout& r = route.rollout();
      std::printf("  rollout #%llu %s %s -> %s: %s, step %u/%u, %s at %g%%\n",
                  static_cast<unsigned long long>(r.id()), r.strategy().c_str(),
                  StableName(r).c_str(), CandidateName(r).c_str(), r.phase().c_str(), r.step(),
                  r.total_steps(), CandidateName(r).c_str(), r.candidate_percent());
      if (!r.stopped_reason().empty()) std::printf("    %s\n", r.stopped_reason().c_str());
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
    PrintStreams(route);
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

std::string Local(const std::string& rfc3339, const char* format) {
  absl::Time t;
  std::string err;
  if (rfc3339.empty() || !absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) return rfc3339;
  return absl::FormatTime(format, t, absl::LocalTimeZone());
}

void PrintDecision(const v1::Decision& d) {
  std::printf("  %s  step %u  %-8s %-14s %s\n", Local(d.time()).c_str(), d.step(), d.kind().c_str(),
              d.actor().c_str(), d.detail().c_str());
}

void PrintRollout(const v1::Rollout& r) {
  std::printf("rollout #%llu on %s: %s %s -> %s, %s, step %u/%u, %s at %g%%\n",
              static_cast<unsigned long long>(r.id()), r.route().c_str(), r.strategy().c_str(),
              StableName(r).c_str(), CandidateName(r).c_str(), r.phase().c_str(), r.step(),
              r.total_steps(), CandidateName(r).c_str(), r.candidate_percent());
  std::printf("  started %s by %s (%s)%s%s\n", Local(r.start_time()).c_str(),
              r.started_by().c_str(), r.source().c_str(), r.reason().empty() ? "" : ": ",
              r.reason().c_str());
  if (!r.notes().empty()) std::printf("  notes: %s\n", r.notes().c_str());
  if (!r.start_at().empty()) std::printf("  planned start %s\n", Local(r.start_at()).c_str());
  if (!r.window().empty()) std::printf("  steps advance inside %s\n", r.window().c_str());
  for (const v1::Gate& g : r.gates()) {
    std::printf("  gate %s: %s: %s%s%s\n", g.name().c_str(), g.state().c_str(), g.detail().c_str(),
                g.by().empty() ? "" : " (by ", g.by().empty() ? "" : (g.by() + ")").c_str());
  }
  if (!r.next_analysis_time().empty()) {
    std::printf("  next analysis %s, failures in a row %u, holds in a row %u\n",
                Local(r.next_analysis_time()).c_str(), r.consecutive_failures(),
                r.consecutive_holds());
  }
  if (!r.stopped_reason().empty()) std::printf("  stopped: %s\n", r.stopped_reason().c_str());
  if (r.outcome() != "in_progress") {
    std::printf("  %s at %s: %s\n", r.outcome().c_str(), Local(r.end_time()).c_str(),
                r.outcome_reason().c_str());
  }
  for (const v1::Decision& d : r.decisions()) PrintDecision(d);
}

}  // namespace rollout::ctl
