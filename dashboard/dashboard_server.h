// DashboardServer: the web dashboard (dashboard: { listen: HOST:PORT }), one page served
// with its script and style by the proxy itself, on a listener of its own.
//
//   GET  /, /app.js, /app.css          the page (no CDN, no build step)
//   GET  /api/whoami                   {"name", "role"} of the bearer token
//   GET  /api/state                    the page's whole state, once (JSON)
//   GET  /api/events                   the same as server-sent events: a `state` event at
//                                      once and after every change (looked at every 500 ms),
//                                      a comment every 10 s to keep the stream open
//   POST /api/rollouts/ROUTE/VERB      pause | resume | promote | abort | approve,
//                                      body {"reason": "..."}
//
// Every /api call needs `Authorization: Bearer <token>` (a token of admin.token_file);
// reads take a viewer's, writes an admin's, through the admin API's own checks
// (AdminGateway). The token travels in that header only, never in a URL or a cookie: the
// page reads the event stream with fetch(), not EventSource, for that reason. Writes are
// safe against CSRF: a cross-site page cannot set that header without a CORS preflight,
// which this server never grants, and a write whose Origin is not this server's, or whose
// body is not JSON, is refused. Pages get a Content-Security-Policy of 'self' and may not
// be framed.
//
// Bounds: at most kMaxStreams event streams at once (a new one ends the oldest, with an
// `evicted` event), each at most kMaxStreamLife; request bodies of kMaxBody bytes; 5 s to
// read a request.
//
// Thread-safety: thread-safe; cpp-httplib serves on its own thread pool. The destructor
// ends the streams and stops the listener.
#ifndef ROLLOUT_DASHBOARD_DASHBOARD_SERVER_H_
#define ROLLOUT_DASHBOARD_DASHBOARD_SERVER_H_

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "admin/token_store.h"
#include "dashboard/admin_gateway.h"
#include "dashboard/traffic_history.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace rollout::dashboard {

class DashboardServer final {
 public:
  static constexpr int kMaxStreams = 4;
  // A stream ends after this; the page opens another (and the token is checked again).
  static constexpr absl::Duration kMaxStreamLife = absl::Minutes(10);
  static constexpr size_t kMaxBody = 4096;

  // Listens on `listen` (port 0: a free one). `tokens` tell the page its role.
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Start(
      const std::string& listen, std::shared_ptr<grpc::Channel> admin, control::TokenStore tokens,
      const metrics::CallMetrics* calls);
  ~DashboardServer();

  int port() const { return port_; }

 private:
  DashboardServer(std::shared_ptr<grpc::Channel> admin, control::TokenStore tokens,
                  const metrics::CallMetrics* calls);
  void Routes();
  // The bearer token of `req`, or "" (and a 401 in `res`).
  std::string Token(const httplib::Request& req, httplib::Response& res) const;
  // The page's state as `token` may see it, with the charts; or an error.
  absl::StatusOr<std::string> StateJson(const std::string& token) const;
  void Events(const httplib::Request& req, httplib::Response& res);
  void Act(const httplib::Request& req, httplib::Response& res);

  AdminGateway gateway_;
  const control::TokenStore tokens_;
  TrafficHistory history_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
  struct Stream {
    std::atomic<bool> evicted{false};
  };
  std::mutex streams_mu_;
  std::deque<std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(streams_mu_);  // oldest first
  std::atomic<bool> stopping_{false};
};

}  // namespace rollout::dashboard

#endif  // ROLLOUT_DASHBOARD_DASHBOARD_SERVER_H_
