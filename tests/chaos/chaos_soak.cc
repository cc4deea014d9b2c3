// rollout-chaos: a chaos soak on loopback, bounded in time. It starts rollout-proxy in
// front of two pools of two demo-model-servers each, keeps KServe traffic flowing through
// it, and meanwhile, one action at a time:
//   - kills a backend with SIGKILL and restarts it on the same port;
//   - flaps a backend's health (SIGUSR1: NOT_SERVING, then SERVING again);
//   - rewrites the config and reloads it (SIGHUP);
//   - changes the route's weights through rolloutctl;
//   - kills the proxy with SIGKILL and restarts it, then checks that the weights and the
//     generation it had are back.
// Every call is checked: the version that answered must be the pool the proxy named in
// x-rollout-pool (and the pool the client forced, when it forced one). Failures are
// attributed to a kill when the call was in flight while that process died (it started
// before the exit was seen and ended after the signal).
//
//   rollout-chaos --duration 60s [--clients 4] [--every 2s] [--seed 1] [--json]
//
// Exit status: 0 when nothing was misrouted or lost, every failure was in flight on a
// killed process, and the state was intact after every proxy restart; 1 otherwise.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "inference/grpc_predict_v2.grpc.pb.h"
#include "metrics/status_code_name.h"
#include "nlohmann/json.hpp"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/kserve_request.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

constexpr char kToken[] = "chaos-admin-secret-0123456789";
constexpr const char* kPools[] = {"v1", "v2"};

// A client learns that its connection died only when its transport notices the reset,
// which can lag the exit (more so under sanitizers): a call started on that connection in
// the meantime fails with it. Such a call counts as in flight on the killed process.
constexpr absl::Duration kNoticeLag = absl::Seconds(1);

// A process killed: from the signal until its exit was seen.
struct Kill {
  std::string what;
  absl::Time signalled, dead;
};

struct Failure {
  absl::Time start, end;
  grpc::StatusCode code;
  std::string message;
};

class Soak {
 public:
  Soak(int clients, absl::Duration every, uint64_t seed)
      : clients_(clients), every_(every), rng_(seed) {}

  int Run(absl::Duration duration, bool json);

 private:
  // Backends: index b serves pool kPools[b / 2].
  bool StartBackend(int b);
  bool StartProxy();
  void WriteConfig();
  int Rolloutctl(const std::vector<std::string>& args, std::string* out);
  void Client(int index);
  void Act(int n);
  bool CheckState(std::string* why);
  void Note(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    actions_[what]++;
  }

  const int clients_;
  const absl::Duration every_;
  std::mt19937_64 rng_;
  TempDir dir_;
  std::string config_path_;
  int proxy_port_ = 0, admin_port_ = 0;
  int backend_ports_[4] = {};
  std::unique_ptr<ChildProcess> backends_[4];
  std::unique_ptr<ChildProcess> proxy_;
  std::string health_interval_ = "200ms";
  int weight_v1_ = 90;
  uint64_t generation_ = 0;
  std::atomic<bool> stop_{false};

  std::mutex mu_;
  std::vector<Kill> kills_;
  std::vector<Failure> failures_;
  std::map<std::string, int> actions_;
  std::vector<std::string> misrouted_;
  std::vector<std::string> state_problems_;
  int proxy_restarts_ = 0;
  std::atomic<uint64_t> sent_{0}, ok_{0};
};

bool Soak::StartBackend(int b) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    backends_[b] = std::make_unique<ChildProcess>(std::vector<std::string>{
        kDemoServerBin, "--port", std::to_string(backend_ports_[b]), "--version", kPools[b / 2]});
    if (!backends_[b]->WaitForLine("listening on", absl::Seconds(5)).empty()) return true;
    absl::SleepFor(absl::Milliseconds(100));  // the port may still be held
  }
  return false;
}

void Soak::WriteConfig() {
  std::string text = absl::StrReplaceAll(R"(
listen: 127.0.0.1:@PORT@
workers: 2
drain_timeout: 1s
state_dir: state
admin: { listen: 127.0.0.1:@ADMIN@, token_file: admin.tokens }
pools:
  - name: v1
    endpoints: ["127.0.0.1:@B0@", "127.0.0.1:@B1@"]
    health_check: { interval: @HC@, timeout: 200ms, unhealthy_threshold: 1, healthy_threshold: 1 }
    outlier_detection: { consecutive_failures: 3, base_ejection: 1s, max_ejection: 2s }
  - name: v2
    endpoints: ["127.0.0.1:@B2@", "127.0.0.1:@B3@"]
    health_check: { interval: @HC@, timeout: 200ms, unhealthy_threshold: 1, healthy_threshold: 1 }
    outlier_detection: { consecutive_failures: 3, base_ejection: 1s, max_ejection: 2s }
routes:
  - name: infer
    override_header: x-rollout-pool
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
)",
                                         {{"@PORT@", std::to_string(proxy_port_)},
                                          {"@ADMIN@", std::to_string(admin_port_)},
                                          {"@HC@", health_interval_},
                                          {"@B0@", std::to_string(backend_ports_[0])},
                                          {"@B1@", std::to_string(backend_ports_[1])},
                                          {"@B2@", std::to_string(backend_ports_[2])},
                                          {"@B3@", std::to_string(backend_ports_[3])}});
  const std::string tmp = dir_.WriteFile("proxy.yaml.tmp", text);
  std::rename(tmp.c_str(), config_path_.c_str());
}

bool Soak::StartProxy() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    proxy_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kProxyBin, "--config", config_path_});
    if (!proxy_->WaitForLine("data plane listening", absl::Seconds(10)).empty()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

int Soak::Rolloutctl(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv = {kRolloutctlBin, "--admin",
                                   "127.0.0.1:" + std::to_string(admin_port_), "--token-file",
                                   dir_.path() + "/token"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, out);
}

void Soak::Client(int index) {
  grpc::ChannelArguments args;
  args.SetInt("rollout.chaos.client", index);  // a connection of its own
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(proxy_port_),
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = inference::GRPCInferenceService::NewStub(channel);
  std::mt19937 rng(index);
  const inference::ModelInferRequest request = InferRequest();
  while (!stop_.load()) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);  // a restarting proxy makes calls wait, not fail
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    const int pick = static_cast<int>(rng() % 4);
    const std::string forced = pick < 2 ? kPools[pick] : "";
    if (!forced.empty()) ctx.AddMetadata("x-rollout-pool", forced);
    inference::ModelInferResponse response;
    const absl::Time start = absl::Now();
    ++sent_;
    grpc::Status status = stub->ModelInfer(&ctx, request, &response);
    const absl::Time end = absl::Now();
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      failures_.push_back({start, end, status.error_code(), status.error_message()});
      continue;
    }
    ++ok_;
    auto header = ctx.GetServerInitialMetadata().find("x-rollout-pool");
    const std::string pool = header == ctx.GetServerInitialMetadata().end()
                                 ? ""
                                 : std::string(header->second.data(), header->second.size());
    std::string wrong;
    if (pool.empty()) {
      wrong = "no x-rollout-pool header";
    } else if (response.model_version() != pool) {
      wrong = absl::StrCat("pool ", pool, " answered by version ", response.model_version());
    } else if (!forced.empty() && pool != forced) {
      wrong = absl::StrCat("forced to ", forced, ", sent to ", pool);
    }
    if (!wrong.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      misrouted_.push_back(wrong);
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

bool Soak::CheckState(std::string* why) {
  std::string out;
  if (Rolloutctl({"--json", "routes"}, &out) != 0) {
    *why = "rolloutctl routes failed: " + out;
    return false;
  }
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) {
    *why = "rolloutctl routes: not JSON: " + out;
    return false;
  }
  // proto3 JSON writes uint64 as a string.
  const nlohmann::json& g = j["generation"];
  const uint64_t generation = g.is_string() ? std::stoull(g.get<std::string>()) : g.get<uint64_t>();
  double v1 = -1;
  for (const auto& route : j["routes"]) {
    if (route.value("name", "") != "infer") continue;
    for (const auto& arm : route["split"]) {
      if (arm.value("pool", "") == "v1") v1 = arm.value("weight", -1.0);
    }
  }
  if (std::abs(v1 - weight_v1_) > 1e-6 || generation < generation_) {
    *why = absl::StrCat("after restart: v1 weight ", v1, " (expected ", weight_v1_,
                        "), generation ", generation, " (expected at least ", generation_, ")");
    return false;
  }
  generation_ = generation;
  return true;
}

void Soak::Act(int n) {
  std::uniform_int_distribution<int> in_pool(0, 1);
  switch (n % 5) {
    case 0: {  // kill a backend, restart it; pools take turns
      const int b = 2 * ((n / 5) % 2) + in_pool(rng_);
      const absl::Time signalled = absl::Now();
      backends_[b]->Signal(SIGKILL);
      backends_[b]->WaitForExit(absl::Seconds(5));
      {
        std::lock_guard<std::mutex> lock(mu_);
        kills_.push_back(
            {absl::StrCat("backend ", kPools[b / 2], "#", b % 2), signalled, absl::Now()});
      }
      absl::SleepFor(absl::Milliseconds(300));
      if (!StartBackend(b)) state_problems_.push_back("a backend did not restart");
      Note("backend killed and restarted");
      break;
    }
    case 1: {  // flap health
      const int b = 2 * ((n / 5 + 1) % 2) + in_pool(rng_);
      backends_[b]->Signal(SIGUSR1);
      absl::SleepFor(absl::Milliseconds(800));
      backends_[b]->Signal(SIGUSR1);
      Note("backend health flapped (NOT_SERVING for 0.8 s)");
      break;
    }
    case 2: {  // reload a changed config
      health_interval_ = health_interval_ == "200ms" ? "300ms" : "200ms";
      WriteConfig();
      proxy_->Signal(SIGHUP);
      Note("config changed and reloaded (SIGHUP)");
      break;
    }
    case 3: {  // change the weights
      weight_v1_ = weight_v1_ == 90 ? 60 : 90;
      std::string out;
      if (Rolloutctl({"set-weight", "infer", absl::StrCat("v1=", weight_v1_),
                      absl::StrCat("v2=", 100 - weight_v1_), "--reason", "chaos"},
                     &out) != 0) {
        std::lock_guard<std::mutex> lock(mu_);
        state_problems_.push_back("set-weight failed: " + out);
      }
      std::string why;
      if (!CheckState(&why)) state_problems_.push_back("after set-weight: " + why);
      Note("weights changed (rolloutctl set-weight)");
      break;
    }
    case 4: {  // kill the proxy, restart it, check its state
      const absl::Time signalled = absl::Now();
      proxy_->Signal(SIGKILL);
      proxy_->WaitForExit(absl::Seconds(5));
      {
        std::lock_guard<std::mutex> lock(mu_);
        kills_.push_back({"proxy", signalled, absl::Now()});
      }
      ++proxy_restarts_;
      if (!StartProxy()) {
        state_problems_.push_back("the proxy did not restart");
        break;
      }
      std::string why;
      if (!CheckState(&why)) state_problems_.push_back(why);
      Note("proxy killed (SIGKILL) and restarted");
      break;
    }
  }
}

int Soak::Run(absl::Duration duration, bool json) {
  const std::vector<int> ports = UnusedPorts(6);
  proxy_port_ = ports[0];
  admin_port_ = ports[1];
  for (int b = 0; b < 4; ++b) backend_ports_[b] = ports[2 + b];
  config_path_ = dir_.path() + "/proxy.yaml";
  dir_.WriteFile("admin.tokens", std::string("chaos admin ") + kToken + "\n");
  dir_.WriteFile("token", std::string(kToken) + "\n");
  WriteConfig();
  for (int b = 0; b < 4; ++b) {
    if (!StartBackend(b)) {
      std::fprintf(stderr, "rollout-chaos: backend %d did not start\n", b);
      return 2;
    }
  }
  if (!StartProxy()) {
    std::fprintf(stderr, "rollout-chaos: the proxy did not start:\n%s\n", proxy_->Log().c_str());
    return 2;
  }
  std::vector<std::thread> clients;
  for (int i = 0; i < clients_; ++i) clients.emplace_back([this, i] { Client(i); });
  const absl::Time end = absl::Now() + duration;
  absl::SleepFor(every_);
  for (int n = 0; absl::Now() + every_ < end; ++n) {
    Act(n);
    absl::SleepFor(every_);
  }
  absl::SleepFor(absl::Milliseconds(500));  // let the last calls land
  stop_ = true;
  for (auto& t : clients) t.join();

  // Attribute each failure: in flight when a process was killed, or not.
  std::map<std::string, int> reasons;
  int attributed = 0, unexplained = 0, lost = 0;
  for (const Failure& f : failures_) {
    std::string killed;
    absl::Duration nearest = absl::InfiniteDuration();  // from the nearest kill's exit
    for (const Kill& k : kills_) {
      // In flight while the process died: started before its exit was seen (or within the
      // time a client takes to notice), and ended after the signal.
      if (f.start <= k.dead + kNoticeLag && k.signalled <= f.end) killed = k.what;
      if (absl::AbsDuration(f.start - k.dead) < absl::AbsDuration(nearest))
        nearest = f.start - k.dead;
    }
    const std::string message = std::regex_replace(f.message, std::regex("[0-9]+"), "N");
    if (f.code == grpc::StatusCode::DEADLINE_EXCEEDED) ++lost;
    if (killed.empty()) {
      ++unexplained;
      std::fprintf(stderr, "not explained: %s %s, started %s from the nearest kill's exit\n",
                   metrics::StatusCodeName(f.code), f.message.c_str(),
                   absl::FormatDuration(nearest).c_str());
      reasons[absl::StrCat("not explained | ", metrics::StatusCodeName(f.code), " ",
                           message.substr(0, 100))]++;
    } else {
      ++attributed;
      reasons[absl::StrCat("in flight when the ", killed.substr(0, killed.find('#')),
                           " was killed | ", metrics::StatusCodeName(f.code), " ",
                           message.substr(0, 100))]++;
    }
  }
  std::map<std::string, int> misroutes;
  for (const std::string& m : misrouted_) misroutes[m]++;
  const bool pass = misrouted_.empty() && unexplained == 0 && lost == 0 && state_problems_.empty();

  if (json) {
    nlohmann::json j = {{"sent", sent_.load()},
                        {"ok", ok_.load()},
                        {"failed", failures_.size()},
                        {"failed_in_flight_on_killed_process", attributed},
                        {"failed_unexplained", unexplained},
                        {"misrouted", misrouted_.size()},
                        {"lost", lost},
                        {"proxy_restarts", proxy_restarts_},
                        {"state_problems", state_problems_},
                        {"actions", actions_},
                        {"failure_reasons", reasons},
                        {"misroutes", misroutes},
                        {"pass", pass}};
    std::printf("%s\n", j.dump(2).c_str());
    return pass ? 0 : 1;
  }
  std::printf("| calls | count |\n|---|---|\n");
  std::printf("| sent | %llu |\n| answered OK | %llu |\n",
              static_cast<unsigned long long>(sent_.load()),
              static_cast<unsigned long long>(ok_.load()));
  std::printf("| failed, in flight on a killed process | %d |\n", attributed);
  std::printf("| failed, anything else | %d |\n", unexplained);
  std::printf("| misrouted | %zu |\n| lost (no answer before the 5 s deadline) | %d |\n\n",
              misrouted_.size(), lost);
  std::printf("| action | times |\n|---|---|\n");
  for (const auto& [what, count] : actions_) std::printf("| %s | %d |\n", what.c_str(), count);
  std::printf("\n| failure | status and message (digits as N) | count |\n|---|---|---|\n");
  for (const auto& [what, count] : reasons) {
    const size_t bar = what.find(" | ");
    std::printf("| %s | %s | %d |\n", what.substr(0, bar).c_str(), what.substr(bar + 3).c_str(),
                count);
  }
  for (const auto& [what, count] : misroutes)
    std::printf("misrouted: %s (%d)\n", what.c_str(), count);
  std::printf("\nproxy restarts: %d, state intact after each: %s\n", proxy_restarts_,
              state_problems_.empty() ? "yes" : "NO");
  for (const std::string& p : state_problems_) std::printf("state problem: %s\n", p.c_str());
  std::printf("result: %s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

}  // namespace
}  // namespace rollout::testing

int main(int argc, char** argv) {
  CLI::App app{"rollout-chaos: a chaos soak of rollout-proxy on loopback"};
  std::string duration_text = "60s", every_text = "2s";
  int clients = 4;
  uint64_t seed = 1;
  bool json = false;
  app.add_option("--duration", duration_text, "how long to run")->capture_default_str();
  app.add_option("--every", every_text, "time between actions")->capture_default_str();
  app.add_option("--clients", clients, "client threads sending calls")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--seed", seed, "picks the victims")->capture_default_str();
  app.add_flag("--json", json, "print the report as JSON");
  CLI11_PARSE(app, argc, argv);
  absl::Duration duration, every;
  if (!absl::ParseDuration(duration_text, &duration) || !absl::ParseDuration(every_text, &every) ||
      duration <= absl::ZeroDuration() || every <= absl::ZeroDuration()) {
    std::fprintf(stderr, "rollout-chaos: bad --duration or --every\n");
    return 2;
  }
  rollout::testing::Soak soak(clients, every, seed);
  return soak.Run(duration, json);
}
