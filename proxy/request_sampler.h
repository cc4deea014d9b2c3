// RequestSampler: copies of a route's recent real requests, taken for the load-test gate
// (rollout/load_test.h), which replays them to a candidate before any user reaches it.
//
// Nothing is copied until the control plane arms a route (Arm). From then on, the data
// plane copies the request bodies of that route's calls as they arrive (Begin, then
// Copy::Append per DATA chunk and Copy::Keep at the client's end of stream) until the
// sample is full: `count` requests or `bytes` in all, whichever comes first. Then the route
// disarms itself and the data plane copies nothing more. The sample lives in memory only,
// is never written anywhere, and is dropped by Disarm (when the load test has it, or is
// cancelled).
//
// Bounds: a request over a sixteenth of the sample's `bytes` (at most kMaxRequestBytes) is
// not kept (counted as too_large). A call being copied reserves that much of the budget
// until it is kept or dropped, so that what the sample and the copies in flight hold
// together never exceeds the sample's `bytes`, and a copy never outgrows its reservation.
// The sample is full when no request of that size fits any more.
//
//   uint64_t armed = sampler.Arm("infer", {.count = 100, .bytes = 16 << 20});  // control
//   auto copy = sampler.Begin("infer", "/inference.GRPCInferenceService/ModelInfer");
//   if (copy) { copy->Append(data, size); ... copy->Keep(); }   // data plane, per call
//   RequestSampler::Progress p = sampler.Look("infer");
//   std::vector<RequestSampler::Request> sample = sampler.Disarm("infer", armed);
//
// Thread-safety: thread-safe. When no route is armed, Begin() costs one relaxed atomic load.
// A Copy is used by one thread, and must not outlive its sampler.
#ifndef ROLLOUT_PROXY_REQUEST_SAMPLER_H_
#define ROLLOUT_PROXY_REQUEST_SAMPLER_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"

namespace rollout::proxy {

class RequestSampler final {
 public:
  static constexpr size_t kMaxRequestBytes = 1 << 20;

  struct Limits {
    size_t count = 100;
    size_t bytes = 16 << 20;
  };
  // One request as the client sent it: its :path and its body (gRPC length-prefixed
  // messages, compressed or not, as they came).
  struct Request {
    std::string method;
    std::string body;
  };
  struct Progress {
    bool armed = false;  // Arm()ed and not yet Disarm()ed (full or not)
    bool full = false;
    size_t count = 0;
    size_t bytes = 0;
    uint64_t too_large = 0;  // requests over kMaxRequestBytes, not kept
  };

  class Copy {
   public:
    ~Copy();
    Copy(const Copy&) = delete;
    Copy& operator=(const Copy&) = delete;
    void Append(const uint8_t* data, size_t size);
    // The request is whole: into the sample, if it still has room. The copy is spent.
    void Keep();

   private:
    friend class RequestSampler;
    Copy(RequestSampler* sampler, std::string route, uint64_t generation, size_t max_bytes,
         std::string method)
        : sampler_(sampler),
          route_(std::move(route)),
          generation_(generation),
          max_bytes_(max_bytes) {
      request_.method = std::move(method);
    }
    RequestSampler* const sampler_;
    const std::string route_;
    const uint64_t generation_;
    const size_t max_bytes_;
    Request request_;
    bool too_large_ = false;
    bool done_ = false;
  };

  RequestSampler() = default;
  RequestSampler(const RequestSampler&) = delete;
  RequestSampler& operator=(const RequestSampler&) = delete;

  // Starts a new sample of `route`'s requests (dropping one it had); returns its number.
  uint64_t Arm(const std::string& route, Limits limits);
  // Stops sample `armed` of `route` and returns what it took (in the order the requests
  // ended); nothing when `route` was armed again since.
  std::vector<Request> Disarm(const std::string& route, uint64_t armed);
  Progress Look(const std::string& route) const;

  // A copy of one call's request when `route` is being sampled and has room; else null.
  std::unique_ptr<Copy> Begin(absl::string_view route, absl::string_view method);

 private:
  struct Collection {
    Limits limits;
    uint64_t generation = 0;
    bool full = false;
    size_t in_flight = 0;  // copies under way, each holding PerRequest() of the budget
    size_t bytes = 0;      // kept
    uint64_t too_large = 0;
    std::vector<Request> requests;
    size_t PerRequest() const { return std::min(kMaxRequestBytes, limits.bytes / 16); }
    size_t Reserved() const { return bytes + in_flight * PerRequest(); }
  };
  // A copy ended: kept (`request` non-null) or dropped.
  void End(const std::string& route, uint64_t generation, Request* request, bool too_large);

  mutable std::mutex mu_;
  std::atomic<int> open_{0};  // collections that are not full: Begin's fast path
  std::map<std::string, Collection, std::less<>> collections_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_REQUEST_SAMPLER_H_
