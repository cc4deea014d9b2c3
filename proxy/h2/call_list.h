// CallList: the calls on one connection, as an intrusive doubly linked list through a
// CallHook member of H2Call (one hook per side, so a call sits on its client connection's
// list and on its backend connection's list at once), with no allocation per call.
//
// Thread-safety: one worker thread.
#ifndef ROLLOUT_PROXY_H2_CALL_LIST_H_
#define ROLLOUT_PROXY_H2_CALL_LIST_H_

namespace rollout::proxy::h2 {

class H2Call;

struct CallList {
  H2Call* head = nullptr;
};
struct CallHook {
  H2Call* prev = nullptr;
  H2Call* next = nullptr;
};

// Both need H2Call complete where they are used.
template <CallHook H2Call::*kHook>
void LinkCall(CallList* list, H2Call* call) {
  (call->*kHook).prev = nullptr;
  (call->*kHook).next = list->head;
  if (list->head != nullptr) (list->head->*kHook).prev = call;
  list->head = call;
}

// False if `call` was not on the list.
template <CallHook H2Call::*kHook>
bool UnlinkCall(CallList* list, H2Call* call) {
  CallHook& hook = call->*kHook;
  if (hook.prev == nullptr && list->head != call) return false;
  if (hook.prev != nullptr) {
    (hook.prev->*kHook).next = hook.next;
  } else {
    list->head = hook.next;
  }
  if (hook.next != nullptr) (hook.next->*kHook).prev = hook.prev;
  hook.prev = hook.next = nullptr;
  return true;
}

}  // namespace rollout::proxy::h2

#endif  // ROLLOUT_PROXY_H2_CALL_LIST_H_
