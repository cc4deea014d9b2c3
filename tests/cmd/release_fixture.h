// ReleaseProcessTest: demo-model-server versions behind a real rollout-proxy, driven by
// rolloutctl, for the release-process tests: pools stable (v1), canary (v2) and wide (v3,
// whose model takes 5 features: not compatible), one KServe route all on stable, an admin
// and a viewer token.
#ifndef ROLLOUT_TESTS_CMD_RELEASE_FIXTURE_H_
#define ROLLOUT_TESTS_CMD_RELEASE_FIXTURE_H_

#include <signal.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/support/inference_load.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

constexpr char kAdminSecret[] = "release-bot-secret-0123456789";
constexpr char kViewerSecret[] = "dashboard-secret-0123456789";

class ReleaseProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(v1_.ok() && v2_.ok() && wide_.ok());
    dir_.WriteFile("admin.tokens", absl::StrCat("release-bot admin ", kAdminSecret,
                                                "\ndashboard viewer ", kViewerSecret, "\n"));
    token_ = dir_.WriteFile("bot.token", kAdminSecret);
    viewer_ = dir_.WriteFile("viewer.token", kViewerSecret);
    config_ = absl::StrReplaceAll(
        R"(
listen: 127.0.0.1:0
workers: 2
admin: { listen: 127.0.0.1:0, token_file: @DIR@/admin.tokens }
state_dir: @DIR@/state
pools:
  - { name: stable, endpoints: ["@V1@"] }
  - { name: canary, endpoints: ["@V2@"] }
  - { name: wide, endpoints: ["@V3@"] }
@MORE@
routes:
  - name: infer
    match: { method_prefix: /inference.GRPCInferenceService/ }
    split: [ { pool: stable, weight: 100 } ]
)",
        {{"@DIR@", dir_.path()},
         {"@V1@", v1_.address()},
         {"@V2@", v2_.address()},
         {"@V3@", wide_.address()},
         {"@MORE@", MorePools()}});
    proxy_ = std::make_unique<ProxyProcess>(config_);
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
  }

  // kill -9, then a new proxy on the same config and state (its ports change).
  void KillAndRestart() {
    proxy_->process().Signal(SIGKILL);
    ASSERT_TRUE(proxy_->process().WaitForExit(absl::Seconds(5)).has_value());
    proxy_ = std::make_unique<ProxyProcess>(config_);
    ASSERT_TRUE(proxy_->ok()) << proxy_->Log();
  }

  // Pools a test adds to the three, as YAML list items.
  virtual std::string MorePools() { return ""; }

  int Ctl(std::vector<std::string> args, std::string* out, const std::string& token = "") {
    std::vector<std::string> argv = {kRolloutctlBin, "--admin", proxy_->admin_address(),
                                     "--token-file", token.empty() ? token_ : token};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out, absl::Seconds(40));
  }

  // Registers v1 (pool stable), v2 (canary) and v3 (wide), all of model "classifier", from
  // file:///models/classifier/<name>.
  void RegisterVersions() {
    std::string out;
    for (auto [name, pool] : {std::pair{"v1", "stable"}, {"v2", "canary"}, {"v3", "wide"}}) {
      ASSERT_EQ(Ctl({"version", "add", name, "--pool", pool, "--model", "classifier", "--artifact",
                     absl::StrCat("file:///models/classifier/", name)},
                    &out),
                0)
          << out;
    }
  }

  nlohmann::json Rollout() {
    std::string out;
    EXPECT_EQ(Ctl({"--json", "rollout", "get", "infer"}, &out, viewer_), 0) << out;
    return nlohmann::json::parse(out, nullptr, false);
  }

  // `version list --json`, by name.
  std::map<std::string, nlohmann::json> Versions() {
    std::string out;
    EXPECT_EQ(Ctl({"version", "list", "--json"}, &out, viewer_), 0) << out;
    std::map<std::string, nlohmann::json> by_name;
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    for (const auto& v : j.value("versions", nlohmann::json::array())) by_name[v["name"]] = v;
    return by_name;
  }

  TempDir dir_;
  DemoServerProcess v1_{{"--version", "v1"}};
  DemoServerProcess v2_{{"--version", "v2"}};
  DemoServerProcess wide_{{"--version", "v3", "--features", "5"}};  // not compatible
  std::string token_, viewer_;
  std::string config_;
  std::unique_ptr<ProxyProcess> proxy_;
};

}  // namespace
}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_CMD_RELEASE_FIXTURE_H_
