// CallList: the calls (or streams) on one connection, as an intrusive doubly linked list
// through a CallHook member (one hook per list, so an H2Call sits on its client
// connection's list, its backend connection's list and the deadline list at once), with no
// allocation per call.
//
//   CallList<H2Call> calls;
//   LinkCall<&H2Call::down_hook>(&calls, call);
//   UnlinkCall<&H2Call::down_hook>(&calls, call);
//
// Thread-safety: one worker thread.
#ifndef ROLLOUT_PROXY_H2_CALL_LIST_H_
#define ROLLOUT_PROXY_H2_CALL_LIST_H_

namespace rollout::proxy::h2 {

template <typename T>
struct CallList {
  T* head = nullptr;
};
template <typename T>
struct CallHook {
  T* prev = nullptr;
  T* next = nullptr;
};

namespace internal {
template <typename M>
struct HookOwner;
template <typename T>
struct HookOwner<CallHook<T> T::*> {
  using type = T;
};
}  // namespace internal

// Both need the element type complete where they are used.
template <auto kHook, typename T = typename internal::HookOwner<decltype(kHook)>::type>
void LinkCall(CallList<T>* list, T* call) {
  (call->*kHook).prev = nullptr;
  (call->*kHook).next = list->head;
  if (list->head != nullptr) (list->head->*kHook).prev = call;
  list->head = call;
}

// False if `call` was not on the list.
template <auto kHook, typename T = typename internal::HookOwner<decltype(kHook)>::type>
bool UnlinkCall(CallList<T>* list, T* call) {
  CallHook<T>& hook = call->*kHook;
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
