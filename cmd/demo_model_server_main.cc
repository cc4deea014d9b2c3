// demo-model-server: a KServe v2 / Open Inference Protocol gRPC server hosting TinyMlp.
//
//   demo-model-server --port 9001 --version v1
//   demo-model-server --port 0 --version v2 --error-rate 0.2 --extra-latency-ms 30
//   demo-model-server --port 0 --features 5          # a model that takes 5 features
//   demo-model-server --port 0 --model-versions 1,2  # two versions of one model
//   demo-model-server --port 0 --generate 20 --first-token-ms 300 --token-ms 20  # streams
//
// Prints "... listening on HOST:PORT" once serving (useful with --port 0), serves
// grpc.health.v1.Health, and exits 0 on SIGTERM/SIGINT after draining for up to 5 s.
// SIGUSR1 flips its health between SERVING and NOT_SERVING, and its KServe ServerReady
// with it (inference keeps working), so tests and the chaos soak can flap a backend's
// health and readiness.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cmd/demo/inference_service.h"

namespace {

// The model's flags: what it serves, the faults it injects, how it streams.
void AddModelFlags(CLI::App& app, rollout::demo::ServiceOptions& options) {
  app.add_option("--version", options.version, "model version served (also picks the weights)")
      ->capture_default_str();
  app.add_option("--model", options.model, "model name served")->capture_default_str();
  app.add_option("--model-versions", options.model_versions,
                 "model versions hosted, each with its own weights (default: --version)")
      ->delimiter(',');
  app.add_option("--features", options.features, "input features the model takes")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--error-rate", options.error_rate,
                 "share of inference calls that fail with INTERNAL, 0..1")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--extra-latency-ms", options.extra_latency_ms,
                 "milliseconds added to every inference call")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  app.add_option("--generate", options.generate,
                 "ModelStreamInfer answers each request with this many messages (a token stream)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--first-token-ms", options.first_token_ms,
                 "with --generate: milliseconds before the first message")
      ->check(CLI::Range(0, 600000));
  app.add_option("--token-ms", options.token_ms,
                 "with --generate: milliseconds between the later messages")
      ->check(CLI::Range(0, 600000));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"demo-model-server: a KServe v2 gRPC model server for rollout demos and tests"};
  rollout::demo::ServiceOptions options;
  std::string host = "127.0.0.1";
  int port = 0;
  app.add_option("--port", port, "port to listen on; 0 picks a free one")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--host", host, "address to bind")->capture_default_str();
  AddModelFlags(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  grpc::EnableDefaultHealthCheckService(true);
  rollout::demo::InferenceService service(options);
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int bound = 0;
  builder.AddListeningPort(absl::StrCat(host, ":", port), grpc::InsecureServerCredentials(),
                           &bound);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound == 0) {
    std::fprintf(stderr, "demo-model-server: error: cannot listen on %s:%d\n", host.c_str(), port);
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  std::string versions = options.version;
  if (!options.model_versions.empty()) {
    versions.clear();
    for (const std::string& v : options.model_versions)
      versions += (versions.empty() ? "" : ",") + v;
  }
  std::printf("demo-model-server: model %s version %s listening on %s:%d\n", options.model.c_str(),
              versions.c_str(), host.c_str(), bound);
  std::fflush(stdout);

  int sig = 0;
  bool serving = true;
  while (sigwait(&signals, &sig) == 0 && sig == SIGUSR1) {
    serving = !serving;
    server->GetHealthCheckService()->SetServingStatus(serving);
    service.SetReady(serving);
    std::printf("demo-model-server: health %s\n", serving ? "SERVING" : "NOT_SERVING");
    std::fflush(stdout);
  }
  server->GetHealthCheckService()->SetServingStatus(false);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
