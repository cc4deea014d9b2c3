#include "config/rollout_spec.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace rollout::control {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status CheckRate(const char* field, const std::optional<double>& v) {
  if (v.has_value() && (!std::isfinite(*v) || *v < 0 || *v > 1)) {
    return Invalid(field, absl::StrCat(*v, " must be a fraction between 0 and 1"));
  }
  return absl::OkStatus();
}

void PutOptional(nlohmann::json& j, const char* key, const std::optional<double>& v) {
  if (v.has_value()) j[key] = *v;
}

std::optional<double> GetOptional(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_number()) return std::nullopt;
  return j[key].get<double>();
}

}  // namespace

absl::StatusOr<Strategy> ParseStrategy(const std::string& name) {
  if (std::optional<Strategy> s = ValueOf(kStrategyNames, name)) return *s;
  std::vector<std::string> startable;  // a rollback is a verb of its own
  for (const auto& entry : kStrategyNames) {
    if (entry.value != Strategy::kRollback) startable.push_back(entry.name);
  }
  return Invalid("strategy", absl::StrCat("unknown strategy \"", name, "\" (",
                                          absl::StrJoin(startable, ", "), ")"));
}

absl::StatusOr<Compatibility> ParseCompatibility(const std::string& name) {
  if (std::optional<Compatibility> c = ValueOf(kCompatibilityNames, name)) return *c;
  return Invalid("compatibility",
                 absl::StrCat("unknown value \"", name, "\" (", NamesOf(kCompatibilityNames), ")"));
}

nlohmann::json RolloutSpec::ToJson() const {
  nlohmann::json j;
  j["route"] = route;
  j["strategy"] = StrategyName(strategy);
  j["stable"] = stable;
  j["candidate"] = candidate;
  if (!stable_version.empty()) j["stable_version"] = stable_version;
  if (!candidate_version.empty()) j["candidate_version"] = candidate_version;
  j["steps"] = steps;
  j["interval_seconds"] = absl::ToDoubleSeconds(analysis.interval);
  j["min_requests"] = analysis.min_requests;
  PutOptional(j, "max_error_rate", analysis.max_error_rate);
  PutOptional(j, "max_error_rate_increase", analysis.max_error_rate_increase);
  PutOptional(j, "max_p99_seconds", analysis.max_p99_seconds);
  PutOptional(j, "max_p99_ratio", analysis.max_p99_ratio);
  PutOptional(j, "max_mismatch_rate", analysis.max_mismatch_rate);
  PutOptional(j, "max_first_message_p99_seconds", analysis.max_first_message_p99_seconds);
  PutOptional(j, "max_first_message_p99_ratio", analysis.max_first_message_p99_ratio);
  PutOptional(j, "max_message_gap_p99_seconds", analysis.max_message_gap_p99_seconds);
  PutOptional(j, "max_message_gap_p99_ratio", analysis.max_message_gap_p99_ratio);
  j["failure_limit"] = analysis.failure_limit;
  j["inconclusive_limit"] = analysis.inconclusive_limit;
  j["mirror_percent"] = mirror_percent;
  j["rollback_window_seconds"] = absl::ToDoubleSeconds(rollback_window);
  j["duration_seconds"] = absl::ToDoubleSeconds(duration);
  j["sample_size"] = sample_size;
  j["alpha"] = alpha;
  j["auto_promote"] = auto_promote;
  j["non_inferiority_margin"] = non_inferiority_margin;
  j["latency_margin"] = latency_margin;
  j["notes"] = notes;
  if (start_at != absl::InfinitePast()) {
    j["start_at"] = absl::FormatTime(absl::RFC3339_full, start_at, absl::UTCTimeZone());
  }
  if (window.has_value()) j["window"] = window->ToJson();
  if (load_test.has_value()) {
    j["load_test"] = {{"duration_seconds", absl::ToDoubleSeconds(load_test->duration)},
                      {"rate", load_test->rate},
                      {"sample", load_test->sample},
                      {"max_bytes", load_test->max_bytes},
                      {"timeout_seconds", absl::ToDoubleSeconds(load_test->timeout)}};
  }
  if (approval.has_value()) {
    j["approval"] = {{"webhook", approval->webhook},
                     {"timeout_seconds", absl::ToDoubleSeconds(approval->timeout)}};
  }
  if (compatibility != Compatibility::kAuto)
    j["compatibility"] = NameOf(kCompatibilityNames, compatibility);
  return j;
}

absl::StatusOr<RolloutSpec> RolloutSpec::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::DataLossError("rollout spec: not an object");
  RolloutSpec s;
  try {
    s.route = j.at("route").get<std::string>();
    auto strategy = ParseStrategy(j.at("strategy").get<std::string>());
    if (!strategy.ok()) return strategy.status();
    s.strategy = *strategy;
    s.stable = j.at("stable").get<std::string>();
    s.candidate = j.at("candidate").get<std::string>();
    s.stable_version = j.value("stable_version", "");
    s.candidate_version = j.value("candidate_version", "");
    s.steps = j.at("steps").get<std::vector<double>>();
    s.analysis.interval = absl::Seconds(j.at("interval_seconds").get<double>());
    s.analysis.min_requests = j.at("min_requests").get<uint64_t>();
    s.analysis.max_error_rate = GetOptional(j, "max_error_rate");
    s.analysis.max_error_rate_increase = GetOptional(j, "max_error_rate_increase");
    s.analysis.max_p99_seconds = GetOptional(j, "max_p99_seconds");
    s.analysis.max_p99_ratio = GetOptional(j, "max_p99_ratio");
    s.analysis.max_mismatch_rate = GetOptional(j, "max_mismatch_rate");
    s.analysis.max_first_message_p99_seconds = GetOptional(j, "max_first_message_p99_seconds");
    s.analysis.max_first_message_p99_ratio = GetOptional(j, "max_first_message_p99_ratio");
    s.analysis.max_message_gap_p99_seconds = GetOptional(j, "max_message_gap_p99_seconds");
    s.analysis.max_message_gap_p99_ratio = GetOptional(j, "max_message_gap_p99_ratio");
    s.analysis.failure_limit = j.at("failure_limit").get<int>();
    s.analysis.inconclusive_limit = j.value("inconclusive_limit", 10);
    s.mirror_percent = j.value("mirror_percent", 0.0);
    s.rollback_window = absl::Seconds(j.value("rollback_window_seconds", 300.0));
    s.duration = absl::Seconds(j.value("duration_seconds", 0.0));
    s.sample_size = j.value("sample_size", uint64_t{0});
    s.alpha = j.value("alpha", 0.05);
    s.auto_promote = j.value("auto_promote", false);
    s.non_inferiority_margin = j.value("non_inferiority_margin", 0.005);
    s.latency_margin = j.value("latency_margin", 0.05);
    s.notes = j.value("notes", "");
    auto compatibility = ParseCompatibility(j.value("compatibility", "auto"));
    if (!compatibility.ok()) return absl::DataLossError(compatibility.status().message());
    s.compatibility = *compatibility;
    if (j.contains("start_at")) {
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, j["start_at"].get<std::string>(), &s.start_at,
                           &err)) {
        return absl::DataLossError(absl::StrCat("rollout spec: start_at: ", err));
      }
    }
    if (j.contains("load_test")) {
      const nlohmann::json& t = j["load_test"];
      LoadTestSpec l;
      l.duration = absl::Seconds(t.value("duration_seconds", 30.0));
      l.rate = t.value("rate", l.rate);
      l.sample = t.value("sample", l.sample);
      l.max_bytes = t.value("max_bytes", l.max_bytes);
      l.timeout = absl::Seconds(t.value("timeout_seconds", 300.0));
      s.load_test = l;
    }
    if (j.contains("approval")) {
      ApprovalSpec a;
      a.webhook = j["approval"].value("webhook", "");
      a.timeout = absl::Seconds(j["approval"].value("timeout_seconds", 3600.0));
      s.approval = a;
    }
    if (j.contains("window")) {
      absl::StatusOr<ReleaseWindow> w = ReleaseWindow::FromJson(j["window"]);
      if (!w.ok()) return absl::DataLossError(absl::StrCat("rollout spec: ", w.status().message()));
      s.window = *std::move(w);
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("rollout spec: ", e.what()));
  }
  return s;
}

namespace {

// The analysis thresholds, whatever the strategy.
absl::Status CheckAnalysis(const AnalysisSpec& a) {
  if (a.interval < absl::Seconds(1)) {
    return Invalid("interval", absl::StrCat(absl::FormatDuration(a.interval), " is below 1s"));
  }
  if (a.failure_limit < 1) return Invalid("failure_limit", "must be at least 1");
  if (a.inconclusive_limit < 1) return Invalid("inconclusive_limit", "must be at least 1");
  for (auto [field, v] :
       {std::pair<const char*, const std::optional<double>*>{"max_error_rate", &a.max_error_rate},
        {"max_error_rate_increase", &a.max_error_rate_increase},
        {"max_mismatch_rate", &a.max_mismatch_rate}}) {
    RETURN_IF_ERROR(CheckRate(field, *v));
  }
  if (a.max_p99_seconds.has_value() && !(*a.max_p99_seconds > 0)) {
    return Invalid("max_p99", "must be > 0");
  }
  for (auto [field, v] :
       {std::pair<const char*, const std::optional<double>*>{"max_p99_ratio", &a.max_p99_ratio},
        {"max_first_message_p99", &a.max_first_message_p99_seconds},
        {"max_first_message_p99_ratio", &a.max_first_message_p99_ratio},
        {"max_message_gap_p99", &a.max_message_gap_p99_seconds},
        {"max_message_gap_p99_ratio", &a.max_message_gap_p99_ratio}}) {
    if (v->has_value() && !(**v > 0)) return Invalid(field, "must be > 0");
  }
  return absl::OkStatus();
}

// A strategy judged against thresholds at every interval must have one that holds alone:
// relative checks are skipped while the stable pool has fewer than min_requests calls (and
// at a 100% step it has none), so with only those every step would pass unjudged.
absl::Status CheckAbsoluteThreshold(const RolloutSpec& spec) {
  const AnalysisSpec& a = spec.analysis;
  switch (spec.strategy) {
    case Strategy::kCanary:
    case Strategy::kBlueGreen:
      if (a.max_error_rate.has_value() || a.max_p99_seconds.has_value() ||
          a.max_first_message_p99_seconds.has_value() ||
          a.max_message_gap_p99_seconds.has_value()) {
        return absl::OkStatus();
      }
      return Invalid("analysis",
                     absl::StrCat(StrategyName(spec.strategy),
                                  " needs an absolute threshold: set max_error_rate (e.g. 0.01) or "
                                  "max_p99 (e.g. 250ms); relative checks alone are skipped while "
                                  "stable has too few calls"));
    case Strategy::kShadow:
      if (a.max_error_rate.has_value() || a.max_p99_seconds.has_value() ||
          a.max_mismatch_rate.has_value()) {
        return absl::OkStatus();
      }
      return Invalid("analysis",
                     "shadow needs an absolute threshold: set max_error_rate, max_p99 or "
                     "max_mismatch_rate");
    case Strategy::kAbTest:    // judged by its test, not thresholds
    case Strategy::kRollback:  // not judged
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

// What each strategy needs of steps, windows and the route; fills in its defaults.
absl::Status CheckStrategy(const routing::RoutingTable::Route& route, RolloutSpec* spec) {
  switch (spec->strategy) {
    case Strategy::kCanary:
    case Strategy::kShadow: {
      if (spec->steps.empty()) {
        if (spec->strategy == Strategy::kCanary) return Invalid("steps", "required for canary");
        spec->steps = {10, 25, 50, 100};
      }
      double last = 0;
      for (size_t i = 0; i < spec->steps.size(); ++i) {
        const double w = spec->steps[i];
        if (!(w > last && w <= 100)) {
          return Invalid(absl::StrCat("steps[", i, "]"),
                         absl::StrCat(w, ": steps must rise, each in (0, 100]"));
        }
        last = w;
      }
      if (spec->strategy == Strategy::kShadow && spec->mirror_percent == 0) {
        spec->mirror_percent = 100;
      }
      break;
    }
    case Strategy::kRollback:
      return Invalid("strategy",
                     "a rollback is not started as a rollout: use rolloutctl rollback "
                     "ROUTE --to-release N (or the Rollback RPC)");
    case Strategy::kBlueGreen:
      if (!spec->steps.empty()) return Invalid("steps", "blue_green switches 0 -> 100 at once");
      if (spec->rollback_window < absl::ZeroDuration()) {
        return Invalid("rollback_window", "must be >= 0");
      }
      break;
    case Strategy::kAbTest:
      if (spec->steps.empty()) spec->steps = {50};
      if (spec->steps.size() != 1 || !(spec->steps[0] > 0 && spec->steps[0] < 100)) {
        return Invalid("steps", "ab_test takes one value, the candidate's share, in (0, 100)");
      }
      if (route.sticky_key.empty()) {
        return Invalid("strategy", absl::StrCat("ab_test needs a sticky split: route \"",
                                                spec->route, "\" has no sticky_key"));
      }
      if (spec->duration <= absl::ZeroDuration() && spec->sample_size == 0) {
        return Invalid("duration", "ab_test needs a duration or a sample_size");
      }
      if (!(spec->alpha > 0 && spec->alpha < 1)) return Invalid("alpha", "must be in (0, 1)");
      if (!(spec->non_inferiority_margin > 0 && spec->non_inferiority_margin < 1)) {
        return Invalid("non_inferiority_margin",
                       "must be in (0, 1): the error-rate increase still counted as no worse, "
                       "e.g. 0.005 for half a point");
      }
      if (!(spec->latency_margin > 0 && spec->latency_margin < 0.5)) {
        return Invalid("latency_margin",
                       "must be in (0, 0.5): the increase in the share of calls slower than "
                       "stable's median still counted as no worse, e.g. 0.05");
      }
      break;
  }
  return absl::OkStatus();
}

absl::Status CheckApproval(const std::optional<ApprovalSpec>& a) {
  if (!a.has_value()) return absl::OkStatus();
  if (!a->webhook.empty() && a->webhook.rfind("http://", 0) != 0 &&
      a->webhook.rfind("https://", 0) != 0) {
    return Invalid("approval.webhook",
                   absl::StrCat("\"", a->webhook, "\" must start with http:// or https://"));
  }
  if (a->timeout <= absl::ZeroDuration()) return Invalid("approval.timeout", "must be > 0");
  return absl::OkStatus();
}

absl::Status CheckLoadTest(const RolloutSpec& spec) {
  if (!spec.load_test.has_value()) return absl::OkStatus();
  const LoadTestSpec& l = *spec.load_test;
  if (spec.strategy == Strategy::kShadow) {
    return Invalid("load_test", "a shadow rollout tests the candidate on mirrored traffic already");
  }
  if (l.duration <= absl::ZeroDuration() || l.duration > absl::Hours(1)) {
    return Invalid("load_test.duration", "must be in (0, 1h]");
  }
  if (!(l.rate > 0 && l.rate <= 1000)) return Invalid("load_test.rate", "must be in (0, 1000]");
  if (l.sample < 1 || l.sample > 10000) return Invalid("load_test.sample", "must be in [1, 10000]");
  if (l.max_bytes < (uint64_t{64} << 10) || l.max_bytes > (uint64_t{256} << 20)) {
    return Invalid("load_test.max_bytes", "must be in [64 KiB, 256 MiB]");
  }
  if (l.timeout <= absl::ZeroDuration()) return Invalid("load_test.timeout", "must be > 0");
  const double calls = l.rate * absl::ToDoubleSeconds(l.duration);
  if (calls < static_cast<double>(spec.analysis.min_requests)) {
    return Invalid("load_test",
                   absl::StrCat("rate x duration makes ", static_cast<uint64_t>(calls),
                                " calls, fewer than min_requests ", spec.analysis.min_requests,
                                ": raise the rate or the duration"));
  }
  if (!spec.analysis.max_error_rate.has_value() && !spec.analysis.max_p99_seconds.has_value()) {
    return Invalid("load_test", "needs max_error_rate or max_p99 to judge the replayed calls by");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRolloutSpec(const routing::RoutingTable& table, RolloutSpec* spec) {
  const routing::RoutingTable::Route* route = nullptr;
  std::vector<std::string> route_names;
  for (const auto& r : table.routes()) {
    route_names.push_back(r.name);
    if (r.name == spec->route) route = &r;
  }
  if (route == nullptr) {
    return Invalid("route", absl::StrCat("unknown route \"", spec->route,
                                         "\" (routes: ", absl::StrJoin(route_names, ", "), ")"));
  }
  std::vector<std::string> pools;
  for (const auto& p : table.pools()) pools.push_back(p.name);
  auto known = [&](const std::string& name) {
    return std::find(pools.begin(), pools.end(), name) != pools.end();
  };
  for (auto [field, name] : {std::pair<const char*, const std::string*>{"stable", &spec->stable},
                             {"candidate", &spec->candidate}}) {
    if (name->empty()) return Invalid(field, "required");
    if (!known(*name)) {
      return Invalid(field, absl::StrCat("unknown pool \"", *name,
                                         "\" (pools: ", absl::StrJoin(pools, ", "), ")"));
    }
  }
  if (spec->stable == spec->candidate) {
    return Invalid("candidate", "must differ from stable");
  }
  RETURN_IF_ERROR(CheckAnalysis(spec->analysis));
  RETURN_IF_ERROR(CheckApproval(spec->approval));
  RETURN_IF_ERROR(CheckLoadTest(*spec));
  if (!(spec->mirror_percent >= 0 && spec->mirror_percent <= 100)) {
    return Invalid("mirror_percent", "must be between 0 and 100");
  }
  RETURN_IF_ERROR(CheckStrategy(*route, spec));
  return CheckAbsoluteThreshold(*spec);
}

}  // namespace rollout::control
