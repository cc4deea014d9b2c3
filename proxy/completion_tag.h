// CompletionTag: what the worker's completion queue carries as a tag. Every asynchronous
// object on a worker's queue (ProxyCall, MirrorCall) owns one tag per operation kind and
// routes events through `handler`.
#ifndef ROLLOUT_PROXY_COMPLETION_TAG_H_
#define ROLLOUT_PROXY_COMPLETION_TAG_H_

namespace rollout::proxy {

struct CompletionTag {
  void (*handler)(void* owner, int op, bool ok);
  void* owner;
  int op;

  void Complete(bool ok) const { handler(owner, op, ok); }
};

}  // namespace rollout::proxy

#endif  // ROLLOUT_PROXY_COMPLETION_TAG_H_
