#include "proxy/h2/h2_worker.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "metrics/call_series.h"
#include "proxy/h2/h2_call.h"

namespace rollout::proxy::h2 {
namespace {

constexpr int64_t kConnectTimeoutNs = int64_t{5} * 1000 * 1000 * 1000;
constexpr int kTickMs = 100;
// After accept() fails for want of descriptors: a tick, so that closing connections can
// free some, without a busy loop.
constexpr int64_t kAcceptPauseNs = int64_t{kTickMs} * 1000 * 1000;

// epoll_event.data.ptr for the two sockets that are not connections.
char kListenTag;
char kWakeTag;

}  // namespace

H2Worker::H2Worker(int index, int listen_fd, const routing::RoutingTableStore* store,
                   int64_t max_message_bytes, const routing::ConnectionLimits& limits,
                   ServerTls* tls, ClientTlsSet* client_tls, metrics::CallMetrics* call_metrics,
                   EngineShared* shared, const std::atomic<bool>* serving)
    : listen_fd_(listen_fd),
      max_message_bytes_(max_message_bytes),
      limits_(limits),
      tls_(tls),
      shared_(shared),
      serving_(serving),
      access_log_(shared->access_log != nullptr ? shared->access_log->shard(index) : nullptr),
      router_(index, store, call_metrics, shared,
              [this, client_tls](const std::string& address, const routing::UpstreamTlsSpec& tls)
                  -> std::unique_ptr<UpstreamSet::Link> {
                absl::StatusOr<std::shared_ptr<ClientTls>> client = nullptr;
                if (tls.enabled) {
                  client = client_tls->Get(tls);
                  if (!client.ok()) {
                    client = absl::Status(client.status().code(),
                                          absl::StrCat("pool TLS: ", client.status().message()));
                  }
                }
                return std::make_unique<H2Upstream>(this, address, std::move(client));
              }),
      read_buffer_(new uint8_t[kReadBufferBytes]),
      now_ns_(metrics::MonotonicNowNs()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &kWakeTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  WatchListener(true);
}

void H2Worker::WatchListener(bool on) {
  if (on == watching_listener_) return;
  watching_listener_ = on;
  if (!on) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
    return;
  }
  // EPOLLEXCLUSIVE: a new connection wakes one worker, not all of them.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.ptr = &kListenTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
}

void H2Worker::PauseAccept(int64_t for_ns) {
  WatchListener(false);
  accept_paused_until_ns_ = now_ns_ + for_ns;
}

H2Worker::~H2Worker() {
  Join();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void H2Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void H2Worker::BeginShutdown(absl::Time deadline) {
  const int64_t left_ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(deadline - absl::Now()));
  deadline_ns_.store(metrics::MonotonicNowNs() + left_ns, std::memory_order_relaxed);
  shutdown_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

void H2Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void H2Worker::MirrorStarted(H2Mirror* mirror) {
  LinkCall<&H2Mirror::worker_hook>(&mirrors_, mirror);
  ++mirrors_inflight_;
}

void H2Worker::MirrorEnded(H2Mirror* mirror) {
  if (UnlinkCall<&H2Mirror::worker_hook>(&mirrors_, mirror)) --mirrors_inflight_;
}

void H2Worker::Reap(H2Connection* conn) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn->fd(), nullptr);
  connections_.erase(conn);
  clients_.erase(std::remove(clients_.begin(), clients_.end(), conn), clients_.end());
  graveyard_.push_back(conn);
}

void H2Worker::Watch(H2Connection* conn, uint32_t events) {
  connections_.insert(conn);
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = conn;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, conn->fd(), &ev);
}

void H2Worker::SetEvents(H2Connection* conn, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = conn;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn->fd(), &ev);
}

void H2Worker::Accept() {
  metrics::ListenerCounters& counters = shared_->listener;
  for (int i = 0; i < 16; ++i) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The connection stays in the backlog; spinning on it would burn a core.
        counters.Count(metrics::ListenerCounters::Rejection::kAcceptError);
        PauseAccept(kAcceptPauseNs);
      }
      return;  // EAGAIN (another worker took it), or a transient error
    }
    if (counters.open() >= limits_.max_connections) {
      counters.Count(metrics::ListenerCounters::Rejection::kMaxConnections);
      ::close(fd);
      continue;
    }
    H2Connection::SetNoDelay(fd);
    SSL* ssl = tls_ != nullptr ? tls_->NewSsl(now_ns_) : nullptr;
    if (tls_ != nullptr && ssl == nullptr) {  // out of memory
      ::close(fd);
      continue;
    }
    auto* conn = new DownstreamConnection(this, fd, now_ns_, ssl);
    clients_.push_back(conn);
    Watch(conn, EPOLLIN);
  }
}

void H2Worker::FlushDirty() {
  // Flushing one connection can dirty another (window updates), hence the loop.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    H2Connection* conn = dirty_[i];
    conn->dirty_ = false;
    conn->Flush();
  }
  dirty_.clear();
  for (H2Connection* conn : graveyard_) delete conn;
  graveyard_.clear();
}

void H2Worker::StartDrain() {
  draining_ = true;
  WatchListener(false);
  for (H2Call* watch : health_watches_) watch->EndHealthWatch();
  for (DownstreamConnection* client : clients_) client->SendGoaway();
}

void H2Worker::Tick(int64_t now_ns) {
  std::vector<H2Connection*> stuck;
  for (H2Connection* conn : connections_) {
    auto* up = dynamic_cast<UpstreamConnection*>(conn);
    if (up != nullptr && !up->ready() && now_ns - up->connect_started_ns() > kConnectTimeoutNs) {
      stuck.push_back(up);
    }
  }
  for (H2Connection* conn : stuck) {
    conn->Close(static_cast<UpstreamConnection*>(conn)->connected()
                    ? "the TLS handshake timed out after 5 s"
                    : "connect: timed out after 5 s");
  }
  for (H2Mirror* m = mirrors_.head; m != nullptr; m = m->worker_hook.next) {
    if (now_ns >= m->deadline_ns()) m->Expire();  // resets the stream; it ends later
  }
  // A connection may close itself here (and leave clients_), hence the copy.
  const std::vector<DownstreamConnection*> clients = clients_;
  for (DownstreamConnection* client : clients) client->CheckTimers(now_ns);
  if (!draining_ && !watching_listener_ && now_ns >= accept_paused_until_ns_) WatchListener(true);
  if (const bool serving = this->serving(); serving != last_serving_) {
    last_serving_ = serving;
    for (H2Call* watch : health_watches_) watch->OnHealthChanged(serving);
  }
}

int H2Worker::Wait(epoll_event* events, int max_events, int wait_ms) {
  const int64_t spin_ns = shared_->busy_poll_ns;
  // Spins only after a turn that had work: an idle worker sleeps, its ticks included.
  if (spin_ns > 0 && wait_ms > 0 && last_ready_ > 0) {
    const int64_t until = metrics::MonotonicNowNs() + spin_ns;
    do {
      last_ready_ = epoll_wait(epoll_fd_, events, max_events, 0);
      if (last_ready_ != 0) return last_ready_;
    } while (metrics::MonotonicNowNs() < until);
  }
  last_ready_ = epoll_wait(epoll_fd_, events, max_events, wait_ms);
  return last_ready_;
}

void H2Worker::Run() {
  epoll_event events[128];
  int64_t next_tick = metrics::MonotonicNowNs() + int64_t{kTickMs} * 1000000;
  for (;;) {
    int wait_ms = kTickMs;
    if (deadlines_.next_ns() != DeadlineList<H2Call>::kNever) {
      const int64_t left_ns = deadlines_.next_ns() - now_ns_;  // rounded up to a ms below
      wait_ms = static_cast<int>(std::clamp<int64_t>((left_ns + 999999) / 1000000, 0, kTickMs));
    }
    const int n = Wait(events, 128, wait_ms);
    now_ns_ = metrics::MonotonicNowNs();
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &kListenTag) {
        if (!draining_) Accept();
      } else if (tag == &kWakeTag) {
        uint64_t value;
        (void)!::read(wake_fd_, &value, sizeof(value));
      } else {
        auto* conn = static_cast<H2Connection*>(tag);
        if (connections_.contains(conn)) conn->OnIo(events[i].events);
      }
    }
    if (!draining_ && shutdown_.load(std::memory_order_acquire)) StartDrain();
    if (now_ns_ >= deadlines_.next_ns()) {
      deadlines_.Expire(now_ns_, [](H2Call* call) { call->OnDeadline(); });
    }
    FlushDirty();
    // The turn's start time serves the tick and the drain deadline: both are coarse, and
    // a second clock read per turn was 0.8% of the proxy's CPU (bench/PROFILE.md).
    const int64_t now = now_ns_;
    if (now >= next_tick) {
      Tick(now);
      FlushDirty();
      next_tick = now + int64_t{kTickMs} * 1000000;
    }
    if (draining_) {
      bool busy = false;
      for (DownstreamConnection* client : clients_) busy |= client->has_calls();
      if (!busy || now >= deadline_ns_.load(std::memory_order_relaxed)) break;
    }
  }
  // Whatever is left is cut off: clients see their streams end with the connection.
  std::vector<H2Connection*> all(connections_.begin(), connections_.end());
  for (H2Connection* conn : all) {
    if (!conn->closed()) conn->Close("the proxy is shutting down");
  }
  FlushDirty();
}

}  // namespace rollout::proxy::h2
