// The fixture of the etcd replica tests: a real 3-member etcd cluster, two echo backends and
// three rollout-proxy replicas sharing state_store.etcd, with admin calls to each.
#ifndef ROLLOUT_TESTS_CMD_ETCD_REPLICAS_H_
#define ROLLOUT_TESTS_CMD_ETCD_REPLICAS_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "rollout/admin/v1/admin.grpc.pb.h"
#include "tests/support/echo_backend.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/proxy_process.h"

namespace rollout::testing {

inline constexpr char kEtcdAdminSecret[] = "etcd-replica-admin-secret-0123456789";

class EtcdReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.ok()) << etcd_.Log(0);
    dir_.WriteFile("admin.tokens", absl::StrCat("ops admin ", kEtcdAdminSecret, "\n"));
    token_ = dir_.WriteFile("ops.token", kEtcdAdminSecret);
    for (int i = 0; i < 3; ++i) Start(i);
  }

  // `extra` is appended to the config (rollouts:, say).
  void Start(int i, const std::string& extra = "") {
    replicas_[i].reset();
    replicas_[i] = std::make_unique<ProxyProcess>(absl::StrReplaceAll(
        R"(
listen: 127.0.0.1:0
workers: 1
admin: { listen: 127.0.0.1:0, token_file: @DIR@/admin.tokens }
metrics: { listen: 127.0.0.1:0 }
state_store:
  etcd: { endpoints: @ETCD@, prefix: /rollout-proxy/test/, lease_ttl: 2s }
pools:
  - { name: v1, endpoints: ["@V1@"] }
  - { name: v2, endpoints: ["@V2@"] }
routes:
  - name: echo
    sticky_key: x-user
    split: [ { pool: v1, weight: 100 } ]
)" + extra,
        {{"@DIR@", dir_.path()},
         {"@ETCD@", etcd_.EndpointsYaml()},
         {"@V1@", v1_.address()},
         {"@V2@", v2_.address()}}));
    ASSERT_TRUE(replicas_[i]->ok()) << replicas_[i]->Log();
    stubs_[i] = admin::v1::AdminService::NewStub(
        grpc::CreateChannel(replicas_[i]->admin_address(), grpc::InsecureChannelCredentials()));
  }

  void Authorize(grpc::ClientContext* ctx) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", kEtcdAdminSecret));
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }

  absl::StatusOr<uint64_t> SetWeights(int i, double v1, double v2, const std::string& reason,
                                      std::optional<uint64_t> expected = std::nullopt) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    admin::v1::SetWeightsRequest request;
    request.set_route("echo");
    (*request.mutable_weights())["v1"] = v1;
    (*request.mutable_weights())["v2"] = v2;
    request.set_reason(reason);
    if (expected.has_value()) request.set_expected_generation(*expected);
    admin::v1::SetWeightsResponse response;
    const grpc::Status s = stubs_[i]->SetWeights(&ctx, request, &response);
    if (!s.ok())
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return response.generation();
  }

  admin::v1::ListRoutesResponse Routes(int i) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    admin::v1::ListRoutesResponse response;
    EXPECT_TRUE(stubs_[i]->ListRoutes(&ctx, admin::v1::ListRoutesRequest(), &response).ok());
    return response;
  }
  uint64_t Generation(int i) { return Routes(i).generation(); }
  double ShareOfV2(int i) {
    const admin::v1::ListRoutesResponse routes = Routes(i);
    if (routes.routes_size() == 0) return -1;
    for (const auto& w : routes.routes(0).split()) {
      if (w.pool() == "v2") return w.share();
    }
    return 0;
  }
  // Waits until every replica is at generation `g` or later.
  void WaitForGeneration(uint64_t g) {
    const absl::Time give_up = absl::Now() + absl::Seconds(5);
    for (int i = 0; i < 3; ++i) {
      while (replicas_[i] != nullptr && Generation(i) < g && absl::Now() < give_up) {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
  }
  std::vector<admin::v1::AuditEntry> Audit(int i) {
    grpc::ClientContext ctx;
    Authorize(&ctx);
    admin::v1::GetAuditLogRequest request;
    request.set_page_size(1000);
    admin::v1::GetAuditLogResponse response;
    EXPECT_TRUE(stubs_[i]->GetAuditLog(&ctx, request, &response).ok());
    return {response.entries().begin(), response.entries().end()};
  }
  std::string PoolFor(int i, const std::string& user) {
    auto stub = Echo::NewStub(replicas_[i]->NewChannel());
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-user", user);
    EchoResponse response;
    EXPECT_TRUE(stub->Unary(&ctx, EchoRequest(), &response).ok());
    return response.backend();
  }
  int Ctl(int i, std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {kRolloutctlBin, "--admin", replicas_[i]->admin_address(),
                                     "--token-file", token_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, out);
  }
  // The replica that leads the rollout engine, or -1.
  int Leader() {
    for (int i = 0; i < 3; ++i) {
      if (replicas_[i] != nullptr && Routes(i).replica_role() == "leader") return i;
    }
    return -1;
  }

  EtcdCluster etcd_{3};
  TempDir dir_;
  EchoBackend v1_{"v1"}, v2_{"v2"};
  std::string token_;
  std::unique_ptr<ProxyProcess> replicas_[3];
  std::unique_ptr<admin::v1::AdminService::Stub> stubs_[3];
};

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_CMD_ETCD_REPLICAS_H_
