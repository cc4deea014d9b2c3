#include "proxy/name_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "metrics/call_series.h"
#include "routing/host_port.h"

namespace rollout::proxy {
namespace {

constexpr int64_t kNsPerSecond = 1000 * 1000 * 1000;
constexpr int64_t kRetryNs = 5 * kNsPerSecond;  // after a failed lookup
constexpr int64_t kMinRefreshNs = kNsPerSecond;

// One name's lookup in a pass.
struct Lookup {
  std::string key;  // host:port as configured
  std::string port;
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<std::string> addresses;
  int min_ttl = 0;  // seconds; 0: none given
};

void OnAddrInfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto* lookup = static_cast<Lookup*>(arg);
  lookup->done = true;
  lookup->status = status;
  if (status == ARES_SUCCESS && result != nullptr) {
    for (ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
      char text[INET6_ADDRSTRLEN] = "";
      if (n->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr, text,
                  sizeof(text));
      } else if (n->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr, text,
                  sizeof(text));
      } else {
        continue;
      }
      lookup->addresses.push_back(routing::JoinHostPort(text, lookup->port));
      if (n->ai_ttl > 0 && (lookup->min_ttl == 0 || n->ai_ttl < lookup->min_ttl)) {
        lookup->min_ttl = n->ai_ttl;
      }
    }
    std::sort(lookup->addresses.begin(), lookup->addresses.end());
    lookup->addresses.erase(std::unique(lookup->addresses.begin(), lookup->addresses.end()),
                            lookup->addresses.end());
  }
  if (result != nullptr) ares_freeaddrinfo(result);
}

// Runs `channel` until every lookup is done or `timeout` passes.
void Drive(ares_channel channel, const std::vector<Lookup>& lookups, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  auto all_done = [&] {
    return std::all_of(lookups.begin(), lookups.end(), [](const Lookup& l) { return l.done; });
  };
  while (!all_done() && absl::Now() < end) {
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    const int mask = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
    pollfd fds[ARES_GETSOCK_MAXNUM];
    int n = 0;
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
      const bool r = ARES_GETSOCK_READABLE(mask, i), w = ARES_GETSOCK_WRITABLE(mask, i);
      if (!r && !w) continue;
      fds[n++] = pollfd{socks[i], static_cast<short>((r ? POLLIN : 0) | (w ? POLLOUT : 0)), 0};
    }
    timeval max{0, 100 * 1000};
    timeval wait;
    ares_timeout(channel, &max, &wait);
    const int ms = static_cast<int>(wait.tv_sec * 1000 + wait.tv_usec / 1000);
    if (poll(fds, n, std::max(ms, 1)) <= 0) {
      ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
      continue;
    }
    for (int i = 0; i < n; ++i) {
      ares_process_fd(channel,
                      (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD,
                      (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
}

}  // namespace

NameResolver::NameResolver(const routing::RoutingTableStore* tables, routing::ResolverSpec spec)
    : tables_(tables), spec_(std::move(spec)), current_(std::make_shared<Snapshot>()) {
  servers_csv_ = absl::StrJoin(spec_.servers, ",");
}

NameResolver::~NameResolver() { Stop(); }

absl::Status NameResolver::Start(absl::Duration first_wait) {
  static const int init = ares_library_init(ARES_LIB_INIT_ALL);
  if (init != ARES_SUCCESS) {
    return absl::InternalError(absl::StrCat("resolver: c-ares: ", ares_strerror(init)));
  }
  if (!servers_csv_.empty()) {  // a bad list fails now, naming the key
    ares_channel channel;
    if (ares_init(&channel) != ARES_SUCCESS) return absl::InternalError("resolver: c-ares init");
    const int rc = ares_set_servers_ports_csv(channel, servers_csv_.c_str());
    ares_destroy(channel);
    if (rc != ARES_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("resolver.servers \"", servers_csv_, "\": ", ares_strerror(rc)));
    }
  }
  if (ResolveDue(metrics::MonotonicNowNs(), first_wait)) Publish();
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void NameResolver::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const NameResolver::Snapshot> NameResolver::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void NameResolver::Run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Often enough that a reload's new names are looked up at once.
      wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; });
      if (stop_) return;
    }
    if (ResolveDue(metrics::MonotonicNowNs(), absl::Seconds(5))) Publish();
  }
}

bool NameResolver::ResolveDue(int64_t now_ns, absl::Duration timeout) {
  bool changed = false;
  absl::flat_hash_map<std::string, Entry> kept;
  std::vector<Lookup> due;
  const std::shared_ptr<const routing::RoutingTable> table = tables_->Current();
  for (const routing::RoutingTable::Pool& pool : table->pools()) {
    for (const std::string& endpoint : pool.endpoints) {
      const routing::HostPort hp = routing::SplitHostPort(endpoint);
      if (routing::IsIpAddress(hp.host) || kept.contains(endpoint)) continue;
      auto it = entries_.find(endpoint);
      Entry entry = it != entries_.end() ? std::move(it->second) : Entry{};
      if (entry.next_ns <= now_ns) due.push_back(Lookup{endpoint, hp.port});
      kept.emplace(endpoint, std::move(entry));
    }
  }
  changed = kept.size() != entries_.size();  // names a reload dropped
  entries_ = std::move(kept);
  if (due.empty()) return changed;

  ares_options options{};
  options.timeout = 2000;  // ms per try
  options.tries = 2;
  ares_channel channel;
  if (ares_init_options(&channel, &options, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS) {
    return changed;
  }
  if (!servers_csv_.empty()) ares_set_servers_ports_csv(channel, servers_csv_.c_str());
  for (Lookup& lookup : due) {
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string host = routing::SplitHostPort(lookup.key).host;
    ares_getaddrinfo(channel, host.c_str(), nullptr, &hints, &OnAddrInfo, &lookup);
  }
  Drive(channel, due, timeout);
  ares_destroy(channel);  // what is still running ends now (ARES_EDESTRUCTION)

  const int64_t refresh_ns = absl::ToInt64Nanoseconds(spec_.refresh_interval);
  for (const Lookup& lookup : due) {
    Entry& entry = entries_[lookup.key];
    const bool ok = lookup.done && lookup.status == ARES_SUCCESS && !lookup.addresses.empty();
    std::string error;
    if (!ok) {
      error = !lookup.done                    ? std::string("the lookup timed out")
              : lookup.status == ARES_SUCCESS ? std::string("no addresses")
                                              : std::string(ares_strerror(lookup.status));
    }
    if (ok && entry.result.addresses != lookup.addresses) {
      entry.result.addresses = lookup.addresses;
      changed = true;
    }
    if (entry.result.error != error) {
      entry.result.error = error;
      changed = true;
    }
    int64_t next = ok ? refresh_ns : std::min(kRetryNs, refresh_ns);
    if (ok && lookup.min_ttl > 0) next = std::min(next, int64_t{lookup.min_ttl} * kNsPerSecond);
    entry.next_ns = now_ns + std::max(next, kMinRefreshNs);
  }
  return changed;
}

void NameResolver::Publish() {
  auto snapshot = std::make_shared<Snapshot>();
  for (const auto& [key, entry] : entries_) snapshot->emplace(key, entry.result);
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(snapshot);
  }
  version_.fetch_add(1, std::memory_order_acq_rel);
}

std::vector<std::string> NameResolver::Expand(const Snapshot* snapshot, const std::string& endpoint,
                                              std::string* why) {
  if (snapshot == nullptr || routing::IsIpAddress(routing::SplitHostPort(endpoint).host)) {
    return {endpoint};
  }
  auto it = snapshot->find(endpoint);
  if (it == snapshot->end()) {
    *why = absl::StrCat(endpoint, " is not resolved yet");
    return {};
  }
  if (it->second.addresses.empty()) {
    *why = absl::StrCat("cannot resolve ", endpoint, ": ", it->second.error);
  }
  return it->second.addresses;
}

std::vector<NameResolver::PoolAddress> NameResolver::ExpandPool(
    const Snapshot* snapshot, const std::vector<std::string>& endpoints,
    const routing::UpstreamTlsSpec& tls, std::string* why) {
  std::vector<PoolAddress> out;
  for (const std::string& endpoint : endpoints) {
    std::string missing;
    routing::UpstreamTlsSpec reach = tls;
    const std::string host = routing::SplitHostPort(endpoint).host;
    if (reach.enabled && reach.server_name.empty() && !routing::IsIpAddress(host)) {
      reach.server_name = host;
    }
    for (std::string& address : Expand(snapshot, endpoint, &missing)) {
      out.push_back(PoolAddress{std::move(address), reach});
    }
    if (!missing.empty()) absl::StrAppend(why, why->empty() ? "" : "; ", missing);
  }
  return out;
}

}  // namespace rollout::proxy
