#include "proxy/h2/h2_engine.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "metrics/call_series.h"

namespace rollout::proxy::h2 {
namespace {

// A listening socket on host:port (port 0: any free port); its port in *port.
absl::StatusOr<int> Listen(const std::string& address, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("listen: missing :port");
  std::string host = address.substr(0, colon);
  const std::string service = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc =
          getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ": ", gai_strerror(rc)));
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const bool ok =
      fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, 1024) == 0;
  const int error = errno;
  freeaddrinfo(found);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (", strerror(error), ")"));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  *port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<H2Engine>> H2Engine::Create(
    const EngineOptions& options, const routing::RoutingTableStore* store) {
  if (absl::Status valid = ValidateEngineOptions(options); !valid.ok()) return valid;
  std::unique_ptr<H2Engine> engine(new H2Engine());
  if (options.tls.has_value()) {
    absl::StatusOr<std::unique_ptr<ServerTls>> tls = ServerTls::Create(*options.tls);
    if (!tls.ok()) return tls.status();
    engine->tls_ = *std::move(tls);
  }
  engine->shared_.listener_limit.set_max(options.max_concurrent_calls);
  // Names are resolved before the first call, and off the workers from then on.
  engine->names_ = std::make_unique<NameResolver>(store, options.resolver);
  if (absl::Status s = engine->names_->Start(absl::Seconds(5)); !s.ok()) return s;
  engine->shared_.names = engine->names_.get();
  engine->shared_.sampler = options.sampler;
  engine->shared_.access_log = options.access_log;
  engine->shared_.busy_poll_ns = options.busy_poll_ns;
  absl::StatusOr<int> fd = Listen(options.listen, &engine->port_);
  if (!fd.ok()) return fd.status();
  engine->listen_fd_ = *fd;
  for (int i = 0; i < options.workers; ++i) {
    engine->workers_.push_back(
        std::make_unique<H2Worker>(i, engine->listen_fd_, store, options.max_message_bytes,
                                   options.connections, engine->tls_.get(), &engine->client_tls_,
                                   options.call_metrics, &engine->shared_, &engine->serving_));
  }
  for (auto& worker : engine->workers_) worker->Start();
  engine->health_checker_ =
      std::make_unique<HealthChecker>(store, &engine->shared_.endpoints, engine->names_.get());
  engine->health_checker_->Start();
  return engine;
}

H2Engine::~H2Engine() {
  Shutdown(absl::Now());
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void H2Engine::Shutdown(absl::Time deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  if (health_checker_ != nullptr) health_checker_->Stop();
  for (auto& worker : workers_) worker->BeginShutdown(deadline);
  for (auto& worker : workers_) worker->Join();
  if (names_ != nullptr) names_->Stop();
}

absl::flat_hash_map<std::string, bool> H2Engine::EndpointHealth() const {
  absl::flat_hash_map<std::string, bool> health;
  const int64_t now = metrics::MonotonicNowNs();
  for (const auto& worker : workers_) worker->upstreams().ReportHealth(&health, now);
  // A host name is as healthy as the best of its addresses.
  const std::shared_ptr<const NameResolver::Snapshot> resolved = names_->Current();
  for (const auto& [name, result] : *resolved) {
    bool any = false;
    for (const std::string& address : result.addresses) {
      auto it = health.find(address);
      any = any || (it != health.end() && it->second);
    }
    health[name] = any;
  }
  return health;
}

}  // namespace rollout::proxy::h2
