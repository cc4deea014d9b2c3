// libFuzzer target: the admin API's request handling. The first byte picks a method; the
// rest is that method's request as it would arrive on the wire. Requests go through the
// real AdminService (authenticated as an admin) over a real Controller and RolloutEngine,
// whose state carries from one input to the next, as it would on a running proxy. Any
// request must get a status, never a crash, and a refused change must leave the routing
// table valid.
#include <grpcpp/test/server_context_test_spouse.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "admin/admin_service.h"
#include "config/config_loader.h"
#include "control/controller.h"
#include "metrics/call_metrics.h"
#include "rollout/metric_source.h"
#include "rollout/rollout_engine.h"

namespace {

namespace v1 = rollout::admin::v1;
using rollout::control::AdminService;

constexpr char kConfig[] = R"(
listen: 127.0.0.1:0
pools:
  - { name: v1, endpoints: ["127.0.0.1:9001"] }
  - { name: v2, endpoints: ["127.0.0.1:9002"] }
  - { name: v3, endpoints: ["127.0.0.1:9003"] }
routes:
  - name: infer
    override_header: x-rollout-pool
    split: [ { pool: v1, weight: 90 }, { pool: v2, weight: 10 } ]
  - name: rest
    sticky_key: x-user
    split: [ { pool: v1, weight: 1 } ]
)";
constexpr char kSecret[] = "fuzz-admin-secret-0123456789";

struct World {
  rollout::metrics::CallMetrics calls{1};
  std::unique_ptr<rollout::control::Controller> controller;
  std::unique_ptr<rollout::control::InProcessSource> source;
  std::unique_ptr<rollout::control::RolloutEngine> engine;
  std::unique_ptr<AdminService> service;

  World() {
    auto config = rollout::control::ParseConfig(kConfig, "fuzz.yaml");
    if (!config.ok()) std::abort();
    auto created = rollout::control::Controller::Create(*std::move(config));
    if (!created.ok()) std::abort();
    controller = *std::move(created);
    source = std::make_unique<rollout::control::InProcessSource>(&calls);
    rollout::control::RolloutEngine::Options options;
    options.source = source.get();
    auto made = rollout::control::RolloutEngine::Create(controller.get(), options);
    if (!made.ok()) std::abort();
    engine = *std::move(made);
    auto tokens = rollout::control::TokenStore::Parse(std::string("fuzzer admin ") + kSecret + "\n",
                                                      "fuzz.tokens");
    if (!tokens.ok()) std::abort();
    service = std::make_unique<AdminService>(controller.get(), engine.get(), *std::move(tokens),
                                             &calls, nullptr);
  }
};

template <typename Request, typename Response>
void Call(grpc::Status (AdminService::*method)(grpc::ServerContext*, const Request*, Response*),
          AdminService* service, const uint8_t* data, size_t size) {
  Request request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return;
  grpc::ServerContext ctx;
  grpc::testing::ServerContextTestSpouse spouse(&ctx);
  spouse.AddClientMetadata("authorization", std::string("Bearer ") + kSecret);
  Response response;
  (void)(service->*method)(&ctx, &request, &response);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  if (size == 0) return 0;
  AdminService* s = world->service.get();
  const uint8_t* body = data + 1;
  const size_t n = size - 1;
  switch (data[0] % 11) {
    case 0:
      Call(&AdminService::SetWeights, s, body, n);
      break;
    case 1:
      Call(&AdminService::StartRollout, s, body, n);
      break;
    case 2:
      Call(&AdminService::PauseRollout, s, body, n);
      break;
    case 3:
      Call(&AdminService::ResumeRollout, s, body, n);
      break;
    case 4:
      Call(&AdminService::PromoteRollout, s, body, n);
      break;
    case 5:
      Call(&AdminService::AbortRollout, s, body, n);
      break;
    case 6:
      Call(&AdminService::GetRollout, s, body, n);
      break;
    case 7:
      Call(&AdminService::GetAuditLog, s, body, n);
      break;
    case 8:
      Call(&AdminService::ListReleases, s, body, n);
      break;
    case 9:
      Call(&AdminService::ListRoutes, s, body, n);
      break;
    case 10:
      Call(&AdminService::GetConfig, s, body, n);
      break;
  }
  world->engine->Tick();  // analyses that came due run too
  // Whatever was accepted or refused, the published table still routes every route.
  if (world->controller->store()->Current()->routes().size() != 2) std::abort();
  return 0;
}
