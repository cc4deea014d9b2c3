// EchoBackend: an in-process rollout.testing.Echo server on 127.0.0.1:0 for proxy tests.
//
// It answers with its own name so tests can tell which backend served a call, echoes the
// request's `x-` metadata back as `echo-<key>` headers, sets the trailer
// `x-backend: <name>`, and records what it received: the last request metadata, how many
// calls are active, and how many it saw cancelled. Requests can ask it to sleep (watching
// for cancellation) or to fail with a given code, message and details.
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_TESTS_SUPPORT_ECHO_BACKEND_H_
#define ROLLOUT_TESTS_SUPPORT_ECHO_BACKEND_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "testing/echo.grpc.pb.h"

namespace rollout::testing {

class EchoBackend final : public Echo::Service {
 public:
  // Listens on `host`:`port` (a loopback address; port 0: any free one).
  explicit EchoBackend(std::string name,
                       std::shared_ptr<grpc::ServerCredentials> credentials = nullptr,
                       std::string host = "127.0.0.1", int port = 0);
  ~EchoBackend() override;

  const std::string& name() const { return name_; }
  int port() const { return port_; }
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  // Whether the server could bind its address.
  bool ok() const { return server_ != nullptr && port_ > 0; }

  // The metadata of the most recent call, as the backend saw it (keys may repeat).
  std::multimap<std::string, std::string> last_metadata();
  int active_calls() const { return active_.load(); }
  int cancelled_calls() const { return cancelled_.load(); }
  int total_calls() const { return total_.load(); }

  // grpc.health.v1 status of the whole server (SERVING at start).
  void SetServing(bool serving);
  // Every call fails with `code` (0: back to normal).
  void FailAll(int code) { fail_all_ = code; }
  // Every call takes this long before it answers.
  void SetDelayMs(int ms) { delay_ms_ = ms; }
  // Waits until `pred` holds or `timeout` passes; returns pred's last value.
  template <typename Pred>
  bool WaitFor(Pred pred, absl::Duration timeout);

  grpc::Status Unary(grpc::ServerContext* ctx, const EchoRequest* request,
                     EchoResponse* response) override;
  grpc::Status ClientStream(grpc::ServerContext* ctx, grpc::ServerReader<EchoRequest>* reader,
                            EchoResponse* response) override;
  grpc::Status ServerStream(grpc::ServerContext* ctx, const EchoRequest* request,
                            grpc::ServerWriter<EchoResponse>* writer) override;
  grpc::Status Bidi(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<EchoResponse, EchoRequest>* stream) override;

 private:
  // Counts the call, records metadata, echoes headers; undone by EndCall.
  void BeginCall(grpc::ServerContext* ctx);
  grpc::Status EndCall(grpc::ServerContext* ctx, grpc::Status status);
  // Sleeps `ms`, returning false early if the call was cancelled.
  bool Sleep(grpc::ServerContext* ctx, int ms);
  void Fill(grpc::ServerContext* ctx, const EchoRequest& request, EchoResponse* response);

  const std::string name_;
  const std::string host_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::multimap<std::string, std::string> last_metadata_;
  std::atomic<int> active_{0};
  std::atomic<int> cancelled_{0};
  std::atomic<int> total_{0};
  std::atomic<int> fail_all_{0};
  std::atomic<int> delay_ms_{0};
};

template <typename Pred>
bool EchoBackend::WaitFor(Pred pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  return pred();
}

}  // namespace rollout::testing

#endif  // ROLLOUT_TESTS_SUPPORT_ECHO_BACKEND_H_
