// AccessPolicy: who may call which admin RPC. The bearer token (TokenStore) names the
// caller and its role; one table gives each method of admin.v1.AdminService the role it
// needs, so the handlers name their method and nothing else. A method missing from the
// table is refused (fail closed), and a test holds the table to the service's descriptor.
//
//   AccessPolicy policy(std::move(tokens));
//   absl::StatusOr<Principal> who = policy.Check(ctx->client_metadata(), "SetWeights");
//
// (gRPC C++ offers no server-side hook that can refuse a call on a plaintext listener:
// AuthMetadataProcessor needs TLS credentials, grpc/grpc#21589, and server interceptors
// cannot fail a call. So the check is the first line of each handler, from this table, and
// an end-to-end test calls every method of the running service as a stranger and as a viewer.)
//
// Thread-safety: immutable; Check() from any thread.
#ifndef ROLLOUT_ADMIN_ACCESS_POLICY_H_
#define ROLLOUT_ADMIN_ACCESS_POLICY_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "admin/token_store.h"

namespace rollout::control {

class AccessPolicy final {
 public:
  explicit AccessPolicy(TokenStore tokens) : tokens_(std::move(tokens)) {}

  // The caller, if its `authorization: Bearer <secret>` matches a token (UNAUTHENTICATED
  // otherwise) and its role may call `method` (PERMISSION_DENIED otherwise).
  absl::StatusOr<Principal> Check(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                                  absl::string_view method) const;

  // The role `method` needs; nullopt for a method the table does not list.
  static std::optional<Role> RoleFor(absl::string_view method);

 private:
  const TokenStore tokens_;
};

}  // namespace rollout::control

#endif  // ROLLOUT_ADMIN_ACCESS_POLICY_H_
