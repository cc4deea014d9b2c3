// The shipped deployment files (deploy/): Prometheus rules and config pass promtool, every
// shipped proxy config passes --check, the manifests hold what Kubernetes needs, and every
// metric the Grafana dashboard queries is really exported by a live proxy.
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_backend.h"
#include "tests/support/http_get.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

using ::testing::HasSubstr;

const std::string kDeploy = std::string(ROLLOUT_SOURCE_DIR) + "/deploy";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(DeployTest, PromtoolAcceptsTheRulesAndTheScrapeConfig) {
  std::string out;
  EXPECT_EQ(
      RunCommand({"/usr/bin/promtool", "check", "rules", kDeploy + "/prometheus/rules.yml"}, &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("SUCCESS: 8 rules found"));
  EXPECT_EQ(
      RunCommand({"/usr/bin/promtool", "check", "config", kDeploy + "/prometheus/prometheus.yml"},
                 &out),
      0)
      << out;
}

TEST(DeployTest, ThePrometheusRuleHoldsTheSameGroupsAsRulesYml) {
  const YAML::Node rules = YAML::LoadFile(kDeploy + "/prometheus/rules.yml");
  const YAML::Node crd = YAML::LoadFile(kDeploy + "/kubernetes/prometheusrule.yaml");
  EXPECT_EQ(crd["kind"].as<std::string>(), "PrometheusRule");
  EXPECT_EQ(YAML::Dump(crd["spec"]["groups"]), YAML::Dump(rules["groups"]));
  std::set<std::string> alerts;
  for (const auto& rule : rules["groups"][0]["rules"]) {
    if (rule["alert"]) alerts.insert(rule["alert"].as<std::string>());
  }
  EXPECT_EQ(alerts,
            (std::set<std::string>{"RolloutCanaryErrorRateAboveStable", "RolloutP99Regression",
                                   "RolloutAborted", "RolloutProxyEndpointEjected",
                                   "RolloutProxyShedding", "RolloutProxyDown"}));
}

TEST(DeployTest, EveryShippedProxyConfigPassesCheck) {
  std::string out;
  EXPECT_EQ(
      RunCommand({kProxyBin, "--config", kDeploy + "/config/rollout-proxy.yaml", "--check"}, &out),
      0)
      << out;
  // The ConfigMap's file, with the Secret's token file where the pod mounts it.
  TempDir dir;
  const YAML::Node cm = YAML::LoadFile(kDeploy + "/kubernetes/configmap.yaml");
  const YAML::Node secret = YAML::LoadFile(kDeploy + "/kubernetes/secret.yaml");
  const std::string tokens =
      dir.WriteFile("admin.tokens", secret["stringData"]["admin.tokens"].as<std::string>());
  const std::string config = dir.WriteFile(
      "proxy.yaml", absl::StrReplaceAll(cm["data"]["proxy.yaml"].as<std::string>(),
                                        {{"/etc/rollout-proxy/tokens/admin.tokens", tokens}}));
  EXPECT_EQ(RunCommand({kProxyBin, "--config", config, "--check"}, &out), 0) << out;
}

TEST(DeployTest, ManifestsHoldWhatKubernetesNeeds) {
  const YAML::Node kustomization = YAML::LoadFile(kDeploy + "/kubernetes/kustomization.yaml");
  std::set<std::string> kinds;
  for (const auto& file : kustomization["resources"]) {
    const YAML::Node doc = YAML::LoadFile(kDeploy + "/kubernetes/" + file.as<std::string>());
    for (const char* key : {"apiVersion", "kind", "metadata"}) {
      EXPECT_TRUE(doc[key]) << file << " has no " << key;
    }
    EXPECT_TRUE(doc["metadata"]["name"]) << file;
    kinds.insert(doc["kind"].as<std::string>());
  }
  EXPECT_EQ(kinds,
            (std::set<std::string>{"ConfigMap", "StatefulSet", "Secret", "Deployment", "Service",
                                   "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule"}));
  const YAML::Node d = YAML::LoadFile(kDeploy + "/kubernetes/deployment.yaml");
  const YAML::Node pod = d["spec"]["template"]["spec"];
  const YAML::Node c = pod["containers"][0];
  EXPECT_EQ(c["readinessProbe"]["grpc"]["port"].as<int>(), 8500);
  EXPECT_EQ(c["livenessProbe"]["grpc"]["port"].as<int>(), 8500);
  EXPECT_TRUE(c["resources"]["requests"]["cpu"]);
  EXPECT_TRUE(c["resources"]["requests"]["memory"]);
  EXPECT_TRUE(pod["topologySpreadConstraints"] || pod["affinity"]);
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_GT(d["spec"]["replicas"].as<int>(), 1);
  // The replicas share their state in the etcd StatefulSet, with no shared volume: each
  // member has a ReadWriteOnce claim of its own, and the ConfigMap names all three.
  const YAML::Node cm = YAML::LoadFile(kDeploy + "/kubernetes/configmap.yaml");
  const YAML::Node etcd =
      YAML::Load(cm["data"]["proxy.yaml"].as<std::string>())["state_store"]["etcd"];
  ASSERT_TRUE(etcd) << "the ConfigMap has no state_store.etcd";
  EXPECT_EQ(etcd["endpoints"].size(), 3u);
  for (const auto& v : pod["volumes"]) EXPECT_FALSE(v["persistentVolumeClaim"]) << v;
  const YAML::Node sts = YAML::LoadFile(kDeploy + "/kubernetes/etcd-statefulset.yaml");
  EXPECT_EQ(sts["spec"]["replicas"].as<int>(), 3);
  EXPECT_EQ(sts["spec"]["serviceName"].as<std::string>(), "rollout-proxy-etcd");
  EXPECT_EQ(sts["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"][0].as<std::string>(),
            "ReadWriteOnce");
  for (const auto& e : etcd["endpoints"]) {
    EXPECT_NE(e.as<std::string>().find(".rollout-proxy-etcd:2379"), std::string::npos) << e;
  }
  const YAML::Node svc = YAML::LoadFile(kDeploy + "/kubernetes/service.yaml");
  std::set<std::string> ports;
  for (const auto& p : svc["spec"]["ports"]) ports.insert(p["name"].as<std::string>());
  EXPECT_EQ(ports, (std::set<std::string>{"grpc", "admin", "metrics"}));
}

// The image itself is built, run and checked by ContainerImageTest (deploy/docker/build.sh).
TEST(DeployTest, TheContainerfileRunsAsNonRootWithAHealthCheck) {
  const std::string containerfile = Read(kDeploy + "/docker/Containerfile");
  EXPECT_THAT(containerfile, HasSubstr("\nFROM ${BASE}\n"));
  EXPECT_THAT(containerfile, HasSubstr("\nUSER 10001:10001\n"));
  EXPECT_THAT(containerfile, HasSubstr("\nHEALTHCHECK "));
  EXPECT_THAT(containerfile, HasSubstr("\nENTRYPOINT [\"rollout-proxy\""));
  EXPECT_EQ(containerfile.find("\nRUN "), std::string::npos)
      << "nothing runs while the image is built: the base comes from mmdebstrap";
  const std::string unit = Read(kDeploy + "/systemd/rollout-proxy.service");
  EXPECT_THAT(unit, HasSubstr("ExecStart=/usr/local/bin/rollout-proxy --config"));
  EXPECT_THAT(unit, HasSubstr("ExecReload=/bin/kill -HUP $MAINPID"));
}

// Every rollout_proxy_* name in the dashboard's queries must be in a live scrape of a proxy
// that has served traffic, mirrored it, and runs a rollout.
TEST(DeployTest, EveryDashboardMetricIsExportedByALiveProxy) {
  const nlohmann::json dashboard =
      nlohmann::json::parse(Read(kDeploy + "/grafana/rollout-proxy.json"));
  std::set<std::string> wanted;
  const std::regex name(R"(rollout_proxy_[a-z_]+)");
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) {
      const std::string expr = target["expr"];
      for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name);
           it != std::sregex_iterator(); ++it) {
        wanted.insert(it->str());
      }
    }
  }
  EXPECT_GE(wanted.size(), 7u);

  EchoBackend a("a"), b("b");
  ProxyProcess proxy(absl::StrReplaceAll(R"(
listen: 127.0.0.1:0
workers: 1
metrics: { listen: 127.0.0.1:0 }
pools:
  - { name: a, endpoints: ["@A@"] }
  - { name: b, endpoints: ["@B@"] }
routes:
  - name: echo
    mirror: { pool: b, percent: 100 }
    split: [ { pool: a, weight: 1 } ]
rollouts:
  - { route: echo, strategy: canary, stable: a, candidate: b, steps: [10], interval: 1h,
      max_error_rate: 0.01 }
)",
                                         {{"@A@", a.address()}, {"@B@", b.address()}}));
  ASSERT_TRUE(proxy.ok()) << proxy.Log();
  auto stub = Echo::NewStub(proxy.NewChannel());
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    EchoResponse response;
    ASSERT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
  }
  std::string scrape;
  for (int i = 0; i < 50; ++i) {  // mirror results are counted once the shadow calls end
    scrape = HttpGet(proxy.metrics_port(), "/metrics").value_or("");
    if (scrape.find("rollout_proxy_mirror_duration_seconds_bucket") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (const std::string& metric : wanted) {
    EXPECT_NE(scrape.find("\n" + metric + "{"), std::string::npos)
        << "the dashboard queries " << metric << ", which the proxy does not export";
  }
  // The proxy's own health, as the image's HEALTHCHECK asks for it.
  std::string out;
  EXPECT_EQ(RunCommand({kRolloutctlBin, "health", "--target", proxy.address()}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("SERVING"));
}

}  // namespace
}  // namespace rollout::testing
