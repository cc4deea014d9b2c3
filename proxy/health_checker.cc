#include "proxy/health_checker.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>

#include <future>
#include <set>

#include "absl/time/clock.h"
#include "credentials/tls_credentials.h"

namespace rollout::proxy {

void HealthChecker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void HealthChecker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool HealthChecker::Check(grpc::Channel* channel, const routing::HealthCheckSpec& spec) {
  // HealthCheckRequest { string service = 1; } and HealthCheckResponse { enum status = 1; },
  // encoded by hand: SERVING is 1.
  std::string request;
  if (!spec.service.empty()) {
    request.push_back(0x0a);
    request.push_back(static_cast<char>(spec.service.size() & 0x7f));  // services are short
    request += spec.service;
  }
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer request_buffer(&slice, 1), response;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + spec.timeout));
  grpc::GenericStub stub(channel->shared_from_this());
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_buffer,
                 &response, [&done](grpc::Status s) { done.set_value(std::move(s)); });
  if (!done.get_future().get().ok()) return false;
  grpc::Slice all;
  if (!response.DumpToSingleSlice(&all).ok()) return false;
  const std::string bytes(reinterpret_cast<const char*>(all.begin()), all.size());
  return bytes == std::string("\x08\x01", 2);
}

void HealthChecker::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stop_; });
      if (stop_) return;
    }
    const auto table = tables_->Current();
    const std::shared_ptr<const NameResolver::Snapshot> resolved =
        names_ != nullptr ? names_->Current() : nullptr;
    const absl::Time now = absl::Now();
    std::set<std::string> checked;
    for (const auto& pool : table->pools()) {
      if (!pool.health_check.enabled) continue;
      std::string unresolved;
      for (const NameResolver::PoolAddress& a :
           NameResolver::ExpandPool(resolved.get(), pool.endpoints, pool.tls, &unresolved)) {
        const std::string& address = a.address;
        checked.insert(pool.name + "/" + address);
        Target& t = targets_[pool.name + "/" + address];
        const routing::UpstreamTlsSpec& tls = a.tls;
        if (t.channel == nullptr || t.tls != tls) {
          t.tls = tls;
          grpc::ChannelArguments args;
          args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
          args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
          std::shared_ptr<grpc::ChannelCredentials> credentials =
              credentials::ChannelCredentials(tls, &args);
          t.channel = grpc::CreateCustomChannel(address, credentials, args);
        }
        if (now < t.next_check) continue;
        t.next_check = now + pool.health_check.interval;
        EndpointState* state = registry_->Get(address);
        if (Check(t.channel.get(), pool.health_check)) {
          t.failures = 0;
          if (++t.passes >= pool.health_check.healthy_threshold) state->SetHealthy(true);
        } else {
          t.passes = 0;
          if (++t.failures >= pool.health_check.unhealthy_threshold) state->SetHealthy(false);
        }
      }
    }
    // A reload that stops checking an endpoint must not leave it marked unhealthy.
    for (auto it = targets_.begin(); it != targets_.end();) {
      if (checked.count(it->first) > 0) {
        ++it;
        continue;
      }
      registry_->Get(it->first.substr(it->first.find('/') + 1))->SetHealthy(true);
      it = targets_.erase(it);
    }
  }
}

}  // namespace rollout::proxy
