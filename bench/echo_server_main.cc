// rollout-bench-server: a gRPC server that echoes every message back, for benchmarks.
//
//   rollout-bench-server --port 0 --name v1
//
// Any method is accepted (a generic callback service): each request message is sent back
// as the response message, and the call ends OK when the client half-closes. Methods whose
// name ends in "Unary" answer and finish in one step. The response's initial metadata
// carries `x-bench-backend: <name>`, so a benchmark can check where each call went. It
// prints "bench server <name> listening on 127.0.0.1:PORT" when ready.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"

namespace {

class EchoReactor final : public grpc::ServerGenericBidiReactor {
 public:
  EchoReactor(grpc::GenericCallbackServerContext* ctx, const std::string& name)
      : unary_(absl::EndsWith(ctx->method(), "Unary")) {
    ctx->AddInitialMetadata("x-bench-backend", name);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed (or went away)
      reads_done_ = true;
      if (!writing_) Finish(grpc::Status::OK);
      return;
    }
    out_ = in_;  // shares the slices
    writing_ = true;
    if (unary_) {
      StartWriteAndFinish(&out_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    }
    StartWrite(&out_);
  }

  void OnWriteDone(bool ok) override {
    writing_ = false;
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    if (reads_done_) return Finish(grpc::Status::OK);
    StartRead(&in_);
  }

  void OnDone() override { delete this; }

 private:
  const bool unary_;
  grpc::ByteBuffer in_, out_;
  bool writing_ = false, reads_done_ = false;
};

class EchoService final : public grpc::CallbackGenericService {
 public:
  explicit EchoService(std::string name) : name_(std::move(name)) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    return new EchoReactor(ctx, name_);
  }

 private:
  const std::string name_;
};

}  // namespace

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detection on:
  // it costs gRPC's every lock a graph update (about 3% of the proxy's CPU in a profile).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"rollout-bench-server: echoes every gRPC message back"};
  int port = 0;
  std::string name = "backend";
  std::string host = "127.0.0.1";
  app.add_option("--port", port, "port (0: a free one)")->capture_default_str();
  app.add_option("--host", host, "address to listen on")->capture_default_str();
  app.add_option("--name", name, "sent back in x-bench-backend")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  EchoService service(name);
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(-1);
  builder.SetMaxSendMessageSize(-1);
  int bound = 0;
  builder.AddListeningPort(host + ":" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound);
  builder.RegisterCallbackGenericService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound == 0) {
    std::fprintf(stderr, "rollout-bench-server: cannot listen on %s:%d\n", host.c_str(), port);
    return 1;
  }
  std::printf("bench server %s listening on %s:%d\n", name.c_str(), host.c_str(), bound);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}
