#include "state/etcd_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "credentials/tls_credentials.h"

namespace rollout::control {
namespace {

absl::Status FromGrpc(const grpc::Status& s, const std::string& member, const char* what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("etcd ", member, ": ", what, ": ", s.error_message()));
}

}  // namespace

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(Options options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd: at least one endpoint is needed");
  }
  std::unique_ptr<EtcdClient> client(new EtcdClient(std::move(options)));
  for (const std::string& address : client->options_.endpoints) {
    grpc::ChannelArguments args;
    // Fail fast while a member is down, so the next one is tried at once.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    std::shared_ptr<grpc::ChannelCredentials> creds =
        credentials::ChannelCredentials(client->options_.tls, &args);
    Member m;
    m.address = address;
    m.channel = grpc::CreateCustomChannel(address, creds, args);
    m.kv = etcdserverpb::KV::NewStub(m.channel);
    m.lease = etcdserverpb::Lease::NewStub(m.channel);
    m.election = v3electionpb::Election::NewStub(m.channel);
    client->members_.push_back(std::move(m));
  }
  return client;
}

template <typename Response, typename Call>
absl::StatusOr<Response> EtcdClient::Unary(const char* what, Call call, absl::Duration deadline) {
  absl::Status last;
  // Twice round the members: a member that just lost its peer may still be electing a
  // raft leader (UNAVAILABLE, or no answer before the deadline) on the first round.
  for (size_t attempt = 0; attempt < 2 * members_.size(); ++attempt) {
    if (attempt == members_.size()) absl::SleepFor(absl::Milliseconds(200));
    const size_t index = current_.load() % members_.size();
    Member& member = members_[index];
    grpc::ClientContext ctx;
    ctx.set_deadline(
        std::chrono::system_clock::now() +
        absl::ToChronoMilliseconds(deadline > absl::ZeroDuration() ? deadline : options_.timeout));
    Response response;
    const grpc::Status s = call(member, &ctx, &response);
    if (s.ok()) return response;
    last = FromGrpc(s, member.address, what);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
        s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return last;
    }
    if (deadline > absl::ZeroDuration() && s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return last;  // the wait the caller chose (Campaign) is over
    }
    size_t expected = index;
    current_.compare_exchange_strong(expected, (index + 1) % members_.size());
  }
  return last;
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(
    const etcdserverpb::RangeRequest& request) {
  return Unary<etcdserverpb::RangeResponse>(
      "Range", [&](Member& m, grpc::ClientContext* ctx, etcdserverpb::RangeResponse* out) {
        return m.kv->Range(ctx, request, out);
      });
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(const etcdserverpb::TxnRequest& request) {
  return Unary<etcdserverpb::TxnResponse>(
      "Txn", [&](Member& m, grpc::ClientContext* ctx, etcdserverpb::TxnResponse* out) {
        return m.kv->Txn(ctx, request, out);
      });
}

absl::StatusOr<etcdserverpb::LeaseGrantResponse> EtcdClient::LeaseGrant(absl::Duration ttl) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(ttl)));
  return Unary<etcdserverpb::LeaseGrantResponse>(
      "LeaseGrant",
      [&](Member& m, grpc::ClientContext* ctx, etcdserverpb::LeaseGrantResponse* out) {
        return m.lease->LeaseGrant(ctx, request, out);
      });
}

absl::Status EtcdClient::LeaseRevoke(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  return Unary<etcdserverpb::LeaseRevokeResponse>(
             "LeaseRevoke",
             [&](Member& m, grpc::ClientContext* ctx, etcdserverpb::LeaseRevokeResponse* out) {
               return m.lease->LeaseRevoke(ctx, request, out);
             })
      .status();
}

absl::StatusOr<absl::Duration> EtcdClient::LeaseKeepAlive(int64_t lease) {
  auto answer = Unary<etcdserverpb::LeaseKeepAliveResponse>(
      "LeaseKeepAlive",
      [&](Member& m, grpc::ClientContext* ctx, etcdserverpb::LeaseKeepAliveResponse* out) {
        auto stream = m.lease->LeaseKeepAlive(ctx);
        etcdserverpb::LeaseKeepAliveRequest request;
        request.set_id(lease);
        if (!stream->Write(request) || !stream->Read(out)) {
          stream->WritesDone();
          grpc::Status s = stream->Finish();
          return s.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed")
                        : s;
        }
        ctx->TryCancel();  // one answer is all this call wants
        return grpc::Status::OK;
      });
  if (!answer.ok()) return answer.status();
  if (answer->ttl() <= 0) {
    return absl::NotFoundError(absl::StrCat("etcd lease ", lease, " has expired"));
  }
  return absl::Seconds(answer->ttl());
}

absl::StatusOr<v3electionpb::CampaignResponse> EtcdClient::Campaign(const std::string& election,
                                                                    int64_t lease,
                                                                    const std::string& value,
                                                                    absl::Duration wait) {
  v3electionpb::CampaignRequest request;
  request.set_name(election);
  request.set_lease(lease);
  request.set_value(value);
  return Unary<v3electionpb::CampaignResponse>(
      "Campaign",
      [&](Member& m, grpc::ClientContext* ctx, v3electionpb::CampaignResponse* out) {
        return m.election->Campaign(ctx, request, out);
      },
      wait);
}

grpc::Status EtcdClient::Observe(
    const std::string& election, grpc::ClientContext* ctx,
    const std::function<void(const v3electionpb::LeaderResponse&)>& on_leader) {
  v3electionpb::LeaderRequest request;
  request.set_name(election);
  Member& member = members_[current_.load() % members_.size()];
  auto stream = member.election->Observe(ctx, request);
  v3electionpb::LeaderResponse response;
  while (stream->Read(&response)) on_leader(response);
  return stream->Finish();
}

absl::Status EtcdClient::Resign(const v3electionpb::LeaderKey& leader) {
  v3electionpb::ResignRequest request;
  *request.mutable_leader() = leader;
  return Unary<v3electionpb::ResignResponse>(
             "Resign",
             [&](Member& m, grpc::ClientContext* ctx, v3electionpb::ResignResponse* out) {
               return m.election->Resign(ctx, request, out);
             })
      .status();
}

std::shared_ptr<grpc::Channel> EtcdClient::channel() const {
  return members_[current_.load() % members_.size()].channel;
}

void EtcdClient::Failover() {
  const size_t index = current_.load();
  size_t expected = index;
  current_.compare_exchange_strong(expected, (index + 1) % members_.size());
}

std::string EtcdClient::endpoint() const {
  return members_[current_.load() % members_.size()].address;
}

}  // namespace rollout::control
