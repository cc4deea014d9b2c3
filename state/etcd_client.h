// EtcdClient: the etcd v3 calls the state store makes (KV, Lease, Election, and the channel
// for watches), over gRPC to one member of a cluster at a time. A call that its member
// does not answer (UNAVAILABLE, or no answer by the deadline) moves on to the next
// endpoint, twice round the members at most, so a dead member costs a retry rather than an
// error. A retried write may have landed the first time: callers make their writes
// conditional (EtcdStore's compare-and-set and commit id). Errors name the member
// and the call: `etcd 127.0.0.1:2379: Txn: connection refused`.
//
//   auto etcd = EtcdClient::Create({.endpoints = {"127.0.0.1:2379"}});
//   etcdserverpb::RangeRequest get;
//   get.set_key("/rollout-proxy/state");
//   absl::StatusOr<etcdserverpb::RangeResponse> got = (*etcd)->Range(get);
//
// Thread-safety: thread-safe.
#ifndef ROLLOUT_STATE_ETCD_CLIENT_H_
#define ROLLOUT_STATE_ETCD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "etcd/etcdserver/api/v3election/v3electionpb/v3election.grpc.pb.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "routing/tls_spec.h"

namespace rollout::control {

class EtcdClient final {
 public:
  struct Options {
    std::vector<std::string> endpoints;         // host:port of each member
    routing::UpstreamTlsSpec tls;               // enabled: TLS (and a client certificate)
    absl::Duration timeout = absl::Seconds(2);  // each unary call's deadline
  };
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(Options options);

  absl::StatusOr<etcdserverpb::RangeResponse> Range(const etcdserverpb::RangeRequest& request);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request);
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> LeaseGrant(absl::Duration ttl);
  absl::Status LeaseRevoke(int64_t lease);
  // One keep-alive; the TTL left, or NOT_FOUND once the lease has expired.
  absl::StatusOr<absl::Duration> LeaseKeepAlive(int64_t lease);
  // Waits, up to `wait`, to be the leader of `election` (CampaignResponse::leader).
  absl::StatusOr<v3electionpb::CampaignResponse> Campaign(const std::string& election,
                                                          int64_t lease, const std::string& value,
                                                          absl::Duration wait);
  // Streams every leader of `election` to `on_leader` until the stream ends (an error, or
  // ctx->TryCancel()); on the member in use.
  grpc::Status Observe(const std::string& election, grpc::ClientContext* ctx,
                       const std::function<void(const v3electionpb::LeaderResponse&)>& on_leader);
  absl::Status Resign(const v3electionpb::LeaderKey& leader);

  // The channel to the member in use, for streams (watch); Failover() moves to the next.
  std::shared_ptr<grpc::Channel> channel() const;
  void Failover();
  std::string endpoint() const;
  const Options& options() const { return options_; }

 private:
  struct Member {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<v3electionpb::Election::Stub> election;
  };
  explicit EtcdClient(Options options) : options_(std::move(options)) {}

  // Runs `call(member, ctx)` on the member in use, moving on while members are
  // unreachable; `deadline` overrides the call timeout.
  template <typename Response, typename Call>
  absl::StatusOr<Response> Unary(const char* what, Call call,
                                 absl::Duration deadline = absl::ZeroDuration());

  const Options options_;
  std::vector<Member> members_;
  std::atomic<size_t> current_{0};
};

// The end of the range of keys that start with `prefix` (etcd's range_end for a prefix).
std::string PrefixEnd(const std::string& prefix);

}  // namespace rollout::control

#endif  // ROLLOUT_STATE_ETCD_CLIENT_H_
