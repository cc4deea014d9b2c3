// GrpcLoadTester: the LoadTester of a proxy (rollout/load_test.h): it samples the route's
// requests on this proxy's own data plane (proxy/request_sampler.h) and replays them over
// gRPC, straight to the candidate's endpoints, so no user call is ever answered by them.
//
// Each test runs on a thread of its own:
//   collecting - arms the sampler for the route and waits until the sample is full, or the
//                spec's timeout passed (then it goes on with what it has, if anything);
//   replaying  - sends the sample's requests in turn, at `rate` calls a second for
//                `duration`, to the endpoints in turn (TLS as the pool's). Each call is a
//                stream carrying the request's messages as they came, the candidate's model
//                pin appended to each, with `x-rollout-load-test: <release>` in its metadata
//                and a deadline of kCallTimeout; every answer message is read and dropped.
//                At most kMaxInFlight calls run at once; a call due beyond that is counted
//                as a server error (the candidate does not keep up);
//   done       - the answers' codes and latencies, counted as the proxy counts its calls.
// Requests that cannot be replayed as they are (a compressed message, a cut body) are left
// out and counted.
//
// Thread-safety: thread-safe. The destructor stops every test and waits for its thread.
#ifndef ROLLOUT_ROLLOUT_LOAD_REPLAYER_H_
#define ROLLOUT_ROLLOUT_LOAD_REPLAYER_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "proxy/request_sampler.h"
#include "rollout/load_test.h"

namespace rollout::control {

// The messages of a request body (gRPC length-prefixed messages), each with `append` added
// to its payload; nullopt when a message is compressed or the body is cut.
std::optional<std::vector<std::string>> ReplayableMessages(const std::string& body,
                                                           const std::string& append);

class GrpcLoadTester final : public LoadTester {
 public:
  static constexpr absl::Duration kCallTimeout = absl::Seconds(10);
  static constexpr int kMaxInFlight = 1000;

  explicit GrpcLoadTester(proxy::RequestSampler* sampler) : sampler_(sampler) {}
  ~GrpcLoadTester() override;

  void Begin(uint64_t key, const LoadTestPlan& plan) override;
  std::optional<LoadTestProgress> Poll(uint64_t key) override;
  void Cancel(uint64_t key) override;

  class Run;  // one test, on its own thread (load_replayer.cc)

 private:
  // Joins the threads of cancelled tests that have finished.
  void ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  proxy::RequestSampler* const sampler_;
  std::mutex mu_;
  std::map<uint64_t, std::shared_ptr<Run>> runs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Run>> stopping_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rollout::control

#endif  // ROLLOUT_ROLLOUT_LOAD_REPLAYER_H_
