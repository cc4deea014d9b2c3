// deploy/kubernetes as Kubernetes tooling sees it: `kubectl kustomize` (Debian's
// kubernetes-client, which scripts/lib.sh unpacks) renders it, and the rendered objects
// hold together: known API versions, every file the container reads is a key of the
// ConfigMap or Secret mounted there, the probes and ports are the ones the config listens
// on, the Service and ServiceMonitor name ports that exist, and the config in the
// ConfigMap passes `rollout-proxy --check`. No cluster is reachable here: nothing is
// applied.
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {
namespace {

const std::string kKubernetes = std::string(ROLLOUT_SOURCE_DIR) + "/deploy/kubernetes";
// Where scripts/lib.sh unpacks Debian's kubernetes-client (see install_kubectl there).
constexpr char kDebianKubectl[] = "/opt/debian-kubernetes-client/usr/bin/kubectl";

std::string Kubectl() {
  if (const char* env = std::getenv("ROLLOUT_KUBECTL"); env != nullptr && *env) return env;
  for (const char* path : {kDebianKubectl, "/usr/bin/kubectl"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

int PortOf(const std::string& listen) {
  int port = 0;
  return absl::SimpleAtoi(listen.substr(listen.rfind(':') + 1), &port) ? port : -1;
}

class KustomizeRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string kubectl = Kubectl();
    if (kubectl.empty()) {
      GTEST_SKIP() << "no kubectl: scripts/test.sh unpacks Debian's kubernetes-client to "
                   << kDebianKubectl;
    }
    std::string version;
    RunCommand({kubectl, "version", "--client"}, &version);
    std::cout << "rendering with " << kubectl << ": " << version.substr(0, version.find('\n'))
              << "\n";
    const std::string errors = dir_.path() + "/stderr";
    std::string out;
    const int code = RunCommand(
        {"/bin/sh", "-c", absl::StrCat(kubectl, " kustomize ", kKubernetes, " 2>", errors)}, &out,
        absl::Seconds(60));
    ASSERT_EQ(code, 0) << out;
    for (const YAML::Node& doc : YAML::LoadAll(out)) {
      if (!doc.IsMap()) continue;
      objects_[doc["kind"].as<std::string>() + "/" + doc["metadata"]["name"].as<std::string>()] =
          doc;
    }
    ASSERT_TRUE(objects_.count("Deployment/rollout-proxy")) << out;
    ASSERT_TRUE(objects_.count("ConfigMap/rollout-proxy")) << out;
    deployment_ = objects_["Deployment/rollout-proxy"];
    container_ = deployment_["spec"]["template"]["spec"]["containers"][0];
    config_ =
        YAML::Load(objects_["ConfigMap/rollout-proxy"]["data"]["proxy.yaml"].as<std::string>());
  }

  // The data of the ConfigMap or Secret that the pod mounts at `dir`, or a null node.
  YAML::Node MountedAt(const std::string& dir) {
    std::string volume;
    for (const YAML::Node& m : container_["volumeMounts"]) {
      if (m["mountPath"].as<std::string>() == dir) volume = m["name"].as<std::string>();
    }
    for (const YAML::Node& v : deployment_["spec"]["template"]["spec"]["volumes"]) {
      if (v["name"].as<std::string>() != volume) continue;
      if (v["configMap"])
        return objects_["ConfigMap/" + v["configMap"]["name"].as<std::string>()]["data"];
      if (v["secret"]) {
        const YAML::Node s = objects_["Secret/" + v["secret"]["secretName"].as<std::string>()];
        return s["stringData"] ? s["stringData"] : s["data"];
      }
    }
    return YAML::Node();
  }

  // Whether the file at `path` in the container is a key of what is mounted at its folder.
  bool Mounted(const std::string& path) {
    const size_t slash = path.rfind('/');
    const YAML::Node data = MountedAt(path.substr(0, slash));
    return data && data[path.substr(slash + 1)];
  }

  std::map<std::string, int> ContainerPorts() {
    std::map<std::string, int> ports;
    for (const YAML::Node& p : container_["ports"]) {
      ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
    }
    return ports;
  }

  TempDir dir_;
  std::map<std::string, YAML::Node> objects_;
  YAML::Node deployment_, container_, config_;
};

TEST_F(KustomizeRenderTest, EveryObjectHasAKnownApiVersion) {
  const std::map<std::string, std::string> api = {{"ConfigMap", "v1"},
                                                  {"Secret", "v1"},
                                                  {"Service", "v1"},
                                                  {"Deployment", "apps/v1"},
                                                  {"StatefulSet", "apps/v1"},
                                                  {"PodDisruptionBudget", "policy/v1"},
                                                  {"ServiceMonitor", "monitoring.coreos.com/v1"},
                                                  {"PrometheusRule", "monitoring.coreos.com/v1"}};
  std::set<std::string> kinds;
  for (const auto& [name, doc] : objects_) {
    const std::string kind = doc["kind"].as<std::string>();
    kinds.insert(kind);
    ASSERT_TRUE(api.count(kind)) << name << ": a kind this test does not know";
    EXPECT_EQ(doc["apiVersion"].as<std::string>(), api.at(kind)) << name;
  }
  EXPECT_EQ(kinds.size(), api.size());
  EXPECT_EQ(objects_.size(), 9u);  // two Services: the proxy's and etcd's headless one
}

TEST_F(KustomizeRenderTest, EveryFileTheContainerReadsIsAMountedKey) {
  std::vector<std::string> args;
  for (const YAML::Node& a : container_["args"]) args.push_back(a.as<std::string>());
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0], "--config");
  EXPECT_TRUE(Mounted(args[1])) << args[1] << " is no key of what is mounted there";
  const std::string tokens = config_["admin"]["token_file"].as<std::string>();
  EXPECT_TRUE(Mounted(tokens)) << tokens << " is no key of what is mounted there";
  for (const YAML::Node& v : deployment_["spec"]["template"]["spec"]["volumes"]) {
    if (v["configMap"]) {
      EXPECT_TRUE(objects_.count("ConfigMap/" + v["configMap"]["name"].as<std::string>())) << v;
    }
    if (v["secret"]) {
      EXPECT_TRUE(objects_.count("Secret/" + v["secret"]["secretName"].as<std::string>())) << v;
    }
  }
}

TEST_F(KustomizeRenderTest, ProbesAndPortsAreTheOnesTheConfigListensOn) {
  const std::map<std::string, int> ports = ContainerPorts();
  const int data = PortOf(config_["listen"].as<std::string>());
  EXPECT_EQ(ports.at("grpc"), data);
  EXPECT_EQ(ports.at("admin"), PortOf(config_["admin"]["listen"].as<std::string>()));
  EXPECT_EQ(ports.at("metrics"), PortOf(config_["metrics"]["listen"].as<std::string>()));
  EXPECT_EQ(ports.at("dashboard"), PortOf(config_["dashboard"]["listen"].as<std::string>()));
  // The proxy answers grpc.health.v1 on its data port.
  EXPECT_EQ(container_["readinessProbe"]["grpc"]["port"].as<int>(), data);
  EXPECT_EQ(container_["livenessProbe"]["grpc"]["port"].as<int>(), data);
  // The Service's target ports and the ServiceMonitor's port are names that exist.
  std::set<std::string> service_ports;
  for (const YAML::Node& p : objects_["Service/rollout-proxy"]["spec"]["ports"]) {
    EXPECT_TRUE(ports.count(p["targetPort"].as<std::string>())) << p;
    service_ports.insert(p["name"].as<std::string>());
  }
  for (const YAML::Node& e : objects_["ServiceMonitor/rollout-proxy"]["spec"]["endpoints"]) {
    EXPECT_TRUE(service_ports.count(e["port"].as<std::string>())) << e;
  }
  // Every selector selects the pods' labels.
  const YAML::Node labels = deployment_["spec"]["template"]["metadata"]["labels"];
  for (const char* name : {"Service/rollout-proxy"}) {
    for (const auto& kv : objects_[name]["spec"]["selector"]) {
      EXPECT_EQ(labels[kv.first.as<std::string>()].as<std::string>(), kv.second.as<std::string>());
    }
  }
  for (const auto& kv :
       objects_["PodDisruptionBudget/rollout-proxy"]["spec"]["selector"]["matchLabels"]) {
    EXPECT_EQ(labels[kv.first.as<std::string>()].as<std::string>(), kv.second.as<std::string>());
  }
}

TEST_F(KustomizeRenderTest, TheRenderedConfigPassesCheck) {
  const std::string tokens = dir_.WriteFile(
      "admin.tokens", MountedAt("/etc/rollout-proxy/tokens")["admin.tokens"].as<std::string>());
  const std::string config = dir_.WriteFile(
      "proxy.yaml", absl::StrReplaceAll(
                        objects_["ConfigMap/rollout-proxy"]["data"]["proxy.yaml"].as<std::string>(),
                        {{"/etc/rollout-proxy/tokens/admin.tokens", tokens}}));
  std::string out;
  EXPECT_EQ(RunCommand({kProxyBin, "--config", config, "--check"}, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr(": OK (2 pools, 1 routes)"));
}

}  // namespace
}  // namespace rollout::testing
