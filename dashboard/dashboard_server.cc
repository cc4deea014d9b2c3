#include "dashboard/dashboard_server.h"

#include <httplib.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "dashboard/assets.h"
#include "metrics/status_code_name.h"

namespace rollout::dashboard {
namespace {

constexpr absl::Duration kLook = absl::Milliseconds(500);  // how often a stream looks
constexpr int kKeepAliveLooks = 20;                        // a comment after 10 s of nothing

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

void Json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void Error(httplib::Response& res, const absl::Status& s) {
  Json(res, HttpStatus(s.code()),
       {{"error", std::string(s.message())},
        {"code", metrics::StatusCodeName(static_cast<int>(s.code()))}});
}

void Error(httplib::Response& res, int status, const std::string& message) {
  Json(res, status, {{"error", message}});
}

}  // namespace

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Start(
    const std::string& listen, std::shared_ptr<grpc::Channel> admin, control::TokenStore tokens,
    const metrics::CallMetrics* calls) {
  std::unique_ptr<DashboardServer> s(
      new DashboardServer(std::move(admin), std::move(tokens), calls));
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dashboard.listen: \"", listen, "\" is not HOST:PORT"));
  }
  const std::string host = listen.substr(0, colon);
  s->port_ = port == 0 ? s->http_->bind_to_any_port(host)
                       : (s->http_->bind_to_port(host, port) ? port : -1);
  if (s->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("dashboard.listen: cannot listen on ", listen, ": ", std::strerror(errno)));
  }
  httplib::Server* http = s->http_.get();
  s->thread_ = std::thread([http] { http->listen_after_bind(); });
  return s;
}

DashboardServer::DashboardServer(std::shared_ptr<grpc::Channel> admin, control::TokenStore tokens,
                                 const metrics::CallMetrics* calls)
    : gateway_(std::move(admin)),
      tokens_(std::move(tokens)),
      history_(calls),
      http_(std::make_unique<httplib::Server>()) {
  // Streams hold a thread each, and so does every kept-alive connection while it waits
  // (a browser opens several): the rest serve the page and its calls.
  http_->new_task_queue = [] { return new httplib::ThreadPool(kMaxStreams + 28); };
  http_->set_keep_alive_timeout(2);
  http_->set_read_timeout(5, 0);
  http_->set_write_timeout(5, 0);
  http_->set_payload_max_length(kMaxBody);
  http_->set_keep_alive_max_count(100);
  Routes();
}

DashboardServer::~DashboardServer() {
  stopping_ = true;  // streams end within one look
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

void DashboardServer::Routes() {
  http_->set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action "
                   "'none'");
    if (absl::StartsWith(req.path, "/api/")) res.set_header("Cache-Control", "no-store");
  });
  for (size_t i = 0; i < kNumAssets; ++i) {
    const Asset& a = kAssets[i];
    const std::string path = std::strcmp(a.path, "/index.html") == 0 ? "/" : a.path;
    http_->Get(path, [&a](const httplib::Request&, httplib::Response& res) {
      res.set_content(reinterpret_cast<const char*>(a.data), a.size, a.content_type);
    });
  }
  http_->Get("/favicon.ico",
             [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  http_->Get("/api/whoami", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string token = Token(req, res);
    if (token.empty()) return;
    const std::optional<control::Principal> who = tokens_.Authenticate(token);
    Json(res, 200,
         {{"name", who->name}, {"role", who->role == control::Role::kAdmin ? "admin" : "viewer"}});
  });
  http_->Get("/api/state", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string token = Token(req, res);
    if (token.empty()) return;
    absl::StatusOr<std::string> state = StateJson(token);
    if (!state.ok()) return Error(res, state.status());
    res.set_content(*state, "application/json");
  });
  http_->Get("/api/events",
             [this](const httplib::Request& req, httplib::Response& res) { Events(req, res); });
  http_->Post(R"(/api/rollouts/(.{1,256})/([a-z]{1,16}))",
              [this](const httplib::Request& req, httplib::Response& res) { Act(req, res); });
}

std::string DashboardServer::Token(const httplib::Request& req, httplib::Response& res) const {
  const std::string header = req.get_header_value("Authorization");
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(header, kBearer) ||
      !tokens_.Authenticate(header.substr(kBearer.size())).has_value()) {
    res.set_header("WWW-Authenticate", "Bearer");
    Error(res, 401, "a token of admin.token_file is needed (Authorization: Bearer TOKEN)");
    return "";
  }
  return header.substr(kBearer.size());
}

absl::StatusOr<std::string> DashboardServer::StateJson(const std::string& token) const {
  absl::StatusOr<nlohmann::json> state = gateway_.State(token);
  if (!state.ok()) return state.status();
  (*state)["charts"] = history_.Json();
  return state->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void DashboardServer::Events(const httplib::Request& req, httplib::Response& res) {
  const std::string token = Token(req, res);
  if (token.empty()) return;
  // A browser that leaves a page does not always close its stream at once, so a new stream
  // takes the place of the oldest one rather than being refused.
  auto slot = std::make_shared<Stream>();
  {
    std::lock_guard<std::mutex> lock(streams_mu_);
    if (streams_.size() >= static_cast<size_t>(kMaxStreams)) {
      streams_.front()->evicted = true;
      streams_.pop_front();
    }
    streams_.push_back(slot);
  }
  auto last = std::make_shared<std::string>();
  const absl::Time end_of_life = absl::Now() + kMaxStreamLife;
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, token, last, slot, end_of_life](size_t, httplib::DataSink& sink) {
        for (int look = 0; !stopping_ && absl::Now() < end_of_life; ++look) {
          if (slot->evicted) {
            constexpr absl::string_view kEvicted =
                "event: evicted\ndata: {\"error\": \"another page took this one's place\"}\n\n";
            sink.write(kEvicted.data(), kEvicted.size());
            break;
          }
          absl::StatusOr<std::string> state = StateJson(token);
          std::string event;
          if (!state.ok()) {  // e.g. the token was taken out of the file
            event =
                absl::StrCat("event: error\ndata: ",
                             nlohmann::json({{"error", state.status().message()}}).dump(), "\n\n");
          } else if (*state != *last) {
            *last = *std::move(state);
            event = absl::StrCat("event: state\ndata: ", *last, "\n\n");
          } else if (look >= kKeepAliveLooks) {
            event = ": still here\n\n";
          }
          if (!event.empty()) return sink.write(event.data(), event.size());
          for (absl::Time end = absl::Now() + kLook;
               absl::Now() < end && !stopping_ && !slot->evicted;) {
            absl::SleepFor(absl::Milliseconds(50));
          }
        }
        sink.done();
        return true;
      },
      [this, slot](bool) {
        std::lock_guard<std::mutex> lock(streams_mu_);
        for (auto it = streams_.begin(); it != streams_.end(); ++it) {
          if (*it == slot) {
            streams_.erase(it);
            break;
          }
        }
      });
}

void DashboardServer::Act(const httplib::Request& req, httplib::Response& res) {
  const std::string token = Token(req, res);
  if (token.empty()) return;
  // CSRF: only this page's own script sends a write (see the header comment).
  const std::string origin = req.get_header_value("Origin");
  if (!origin.empty() && origin != "http://" + req.get_header_value("Host")) {
    return Error(res, 403, absl::StrCat("refused: a write from another origin (", origin, ")"));
  }
  const std::string site = req.get_header_value("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin") {
    return Error(res, 403, absl::StrCat("refused: a write from a ", site, " page"));
  }
  if (!absl::StartsWith(req.get_header_value("Content-Type"), "application/json")) {
    return Error(res, 415, "a write's body must be JSON (Content-Type: application/json)");
  }
  const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return Error(res, 400, "the body must be a JSON object");
  std::string reason = "from the dashboard";
  if (body.contains("reason")) {
    if (!body["reason"].is_string()) return Error(res, 400, "\"reason\" must be a string");
    if (!body["reason"].get<std::string>().empty()) reason = body["reason"];
  }
  absl::StatusOr<nlohmann::json> rollout =
      gateway_.Act(token, req.matches[2], req.matches[1], reason);
  if (!rollout.ok()) return Error(res, rollout.status());
  Json(res, 200, *rollout);
}

}  // namespace rollout::dashboard
