#include "admin/access_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "rollout/admin/v1/admin.grpc.pb.h"
#include "tests/support/child_process.h"

namespace rollout::control {
namespace {

using ::testing::HasSubstr;

// Every RPC the service offers has a rule: a new method cannot ship open, or shut by
// accident.
TEST(AccessPolicyTest, EveryMethodOfTheServiceHasARuleAndReadsAreForViewers) {
  const google::protobuf::ServiceDescriptor* service =
      admin::v1::SetWeightsRequest::descriptor()->file()->FindServiceByName("AdminService");
  ASSERT_NE(service, nullptr);
  ASSERT_GT(service->method_count(), 0);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string& name = service->method(i)->name();
    const std::optional<Role> role = AccessPolicy::RoleFor(name);
    ASSERT_TRUE(role.has_value()) << name << " has no access rule";
    const bool read =
        name.rfind("Get", 0) == 0 || name.rfind("List", 0) == 0 || name.rfind("Watch", 0) == 0;
    EXPECT_EQ(*role, read ? Role::kViewer : Role::kAdmin) << name;
  }
  EXPECT_FALSE(AccessPolicy::RoleFor("DropTables").has_value());
}

TEST(AccessPolicyTest, TokensMapToCallersAndRolesAndUnknownMethodsAreRefused) {
  rollout::testing::TempDir dir;
  const std::string path = dir.WriteFile(
      "tokens", "alice admin alice-secret-0123456789\nbob viewer bob-secret-0123456789\n");
  chmod(path.c_str(), 0600);
  absl::StatusOr<TokenStore> tokens = TokenStore::LoadFile(path);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  const AccessPolicy policy(*std::move(tokens));
  auto check = [&](const std::string& header, const char* method) {
    std::multimap<grpc::string_ref, grpc::string_ref> md;
    if (!header.empty()) md.emplace("authorization", header);
    return policy.Check(md, method);
  };
  absl::StatusOr<Principal> alice = check("Bearer alice-secret-0123456789", "SetWeights");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->name, "alice");
  EXPECT_TRUE(check("Bearer bob-secret-0123456789", "ListRoutes").ok());
  EXPECT_THAT(std::string(check("Bearer bob-secret-0123456789", "SetWeights").status().message()),
              HasSubstr("token \"bob\" has the viewer role; SetWeights needs admin"));
  EXPECT_EQ(check("", "ListRoutes").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(check("Basic abc", "ListRoutes").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(check("Bearer alice-secret-0123456789", "DropTables").status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace rollout::control
