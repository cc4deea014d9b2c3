#include "state/etcd_watch.h"

#include "absl/strings/str_cat.h"
#include "base/log.h"

namespace rollout::control {

EtcdWatch::EtcdWatch(EtcdClient* client, std::string prefix, int64_t start_revision,
                     OnEvents on_events, OnRelist on_relist)
    : client_(client),
      prefix_(std::move(prefix)),
      on_events_(std::move(on_events)),
      on_relist_(std::move(on_relist)),
      next_(start_revision) {
  thread_ = std::thread([this] { Run(); });
}

EtcdWatch::~EtcdWatch() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (open_ != nullptr) open_->TryCancel();
  }
  wake_.notify_all();
  thread_.join();
}

void EtcdWatch::Run() {
  while (Stream()) {
    connected_ = false;
    client_->Failover();
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) break;
  }
  connected_ = false;
}

bool EtcdWatch::Stream() {
  grpc::ClientContext ctx;
  ctx.AddMetadata("hasleader", "true");  // etcd's WithRequireLeader
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    open_ = &ctx;
  }
  auto stub = etcdserverpb::Watch::NewStub(client_->channel());
  auto stream = stub->Watch(&ctx);
  etcdserverpb::WatchRequest request;
  etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
  create->set_key(prefix_);
  create->set_range_end(PrefixEnd(prefix_));
  create->set_start_revision(next_.load());
  create->set_progress_notify(true);
  etcdserverpb::WatchResponse response;
  if (stream->Write(request)) {
    while (stream->Read(&response)) {
      if (response.compact_revision() > 0) {
        log::Warn(absl::StrCat("etcd watch on ", prefix_, ": revision ", next_.load(),
                               " was compacted; reading the state again"));
        absl::StatusOr<int64_t> read_at = on_relist_();
        if (read_at.ok()) next_ = *read_at + 1;
        break;
      }
      if (response.canceled()) break;
      if (response.created()) connected_ = true;
      if (response.events_size() > 0) {
        std::vector<mvccpb::Event> events(response.events().begin(), response.events().end());
        on_events_(events);
        next_ = events.back().kv().mod_revision() + 1;
      } else if (!response.created() && response.header().revision() >= next_.load()) {
        next_ = response.header().revision() + 1;  // a progress notice
      }
    }
  }
  ctx.TryCancel();
  const grpc::Status end = stream->Finish();
  std::lock_guard<std::mutex> lock(mu_);
  open_ = nullptr;
  if (!stopping_) {
    log::Warn(absl::StrCat("etcd watch on ", client_->endpoint(), " ended (",
                           end.error_message().empty() ? "closed" : end.error_message(),
                           "); resuming from revision ", next_.load()));
  }
  return !stopping_;
}

}  // namespace rollout::control
