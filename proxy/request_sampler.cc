#include "proxy/request_sampler.h"

namespace rollout::proxy {

RequestSampler::Copy::~Copy() {
  if (!done_) sampler_->End(route_, generation_, nullptr, too_large_);
}

void RequestSampler::Copy::Append(const uint8_t* data, size_t size) {
  if (done_ || too_large_) return;
  if (request_.body.size() + size > max_bytes_) {
    too_large_ = true;
    std::string().swap(request_.body);
    return;
  }
  request_.body.append(reinterpret_cast<const char*>(data), size);
}

void RequestSampler::Copy::Keep() {
  if (done_) return;
  done_ = true;
  sampler_->End(route_, generation_, too_large_ ? nullptr : &request_, too_large_);
}

uint64_t RequestSampler::Arm(const std::string& route, Limits limits) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = collections_.try_emplace(route);
  if (!fresh && !it->second.full) open_.fetch_sub(1, std::memory_order_relaxed);
  it->second = Collection();
  it->second.limits = limits;
  it->second.generation = next_generation_++;
  it->second.full = limits.count == 0 || it->second.PerRequest() == 0;
  if (!it->second.full) open_.fetch_add(1, std::memory_order_relaxed);
  return it->second.generation;
}

std::vector<RequestSampler::Request> RequestSampler::Disarm(const std::string& route,
                                                            uint64_t armed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = collections_.find(route);
  if (it == collections_.end() || it->second.generation != armed) return {};
  if (!it->second.full) open_.fetch_sub(1, std::memory_order_relaxed);
  std::vector<Request> out = std::move(it->second.requests);
  collections_.erase(it);
  return out;
}

RequestSampler::Progress RequestSampler::Look(const std::string& route) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = collections_.find(route);
  if (it == collections_.end()) return {};
  const Collection& c = it->second;
  return {true, c.full, c.requests.size(), c.bytes, c.too_large};
}

std::unique_ptr<RequestSampler::Copy> RequestSampler::Begin(absl::string_view route,
                                                            absl::string_view method) {
  if (open_.load(std::memory_order_relaxed) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = collections_.find(route);
  if (it == collections_.end()) return nullptr;
  Collection& c = it->second;
  if (c.full || c.requests.size() + c.in_flight >= c.limits.count ||
      c.Reserved() + c.PerRequest() > c.limits.bytes) {
    return nullptr;  // full, or room only for the copies under way
  }
  ++c.in_flight;
  return std::unique_ptr<Copy>(
      new Copy(this, std::string(route), c.generation, c.PerRequest(), std::string(method)));
}

void RequestSampler::End(const std::string& route, uint64_t generation, Request* request,
                         bool too_large) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = collections_.find(route);
  if (it == collections_.end() || it->second.generation != generation) return;  // re-armed
  Collection& c = it->second;
  --c.in_flight;
  if (too_large) ++c.too_large;
  if (c.full) return;
  if (request != nullptr && c.requests.size() < c.limits.count &&
      c.bytes + request->body.size() <= c.limits.bytes) {
    c.bytes += request->body.size();
    c.requests.push_back(std::move(*request));
  }
  if (c.requests.size() >= c.limits.count || c.bytes + c.PerRequest() > c.limits.bytes) {
    c.full = true;  // no room for one more request of the largest size kept
    open_.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace rollout::proxy
