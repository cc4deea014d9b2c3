#include "admin/token_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rollout::control {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(TokenStoreTest, AuthenticatesBySecretAndKnowsTheRole) {
  auto tokens = TokenStore::Parse(R"(
# name  role    secret
alice   admin   alice-0123456789abcdef
bob     viewer  bob-0123456789abcdef   # trailing comment
)",
                                  "admin.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->size(), 2u);
  auto alice = tokens->Authenticate("alice-0123456789abcdef");
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->role, Role::kAdmin);
  EXPECT_EQ(tokens->Authenticate("bob-0123456789abcdef")->role, Role::kViewer);
  EXPECT_FALSE(tokens->Authenticate("bob-0123456789abcde").has_value());    // prefix
  EXPECT_FALSE(tokens->Authenticate("bob-0123456789abcdefg").has_value());  // longer
  EXPECT_FALSE(tokens->Authenticate("").has_value());
}

TEST(TokenStoreTest, BadFilesAreRejectedWithoutEchoingSecrets) {
  auto wrong_role = TokenStore::Parse("carol root carol-0123456789abcdef\n", "t");
  EXPECT_THAT(wrong_role.status().message(), AllOf(HasSubstr("t:1"), HasSubstr("admin or viewer"),
                                                   Not(HasSubstr("carol-0123456789abcdef"))));
  auto two_fields = TokenStore::Parse("dave admin\n", "t");
  EXPECT_THAT(two_fields.status().message(), HasSubstr("<name> <role> <secret>"));
  auto four_fields = TokenStore::Parse("dave admin s3cr3t-0123456789abcdef extra\n", "t");
  EXPECT_THAT(four_fields.status().message(), Not(HasSubstr("s3cr3t")));
  EXPECT_THAT(TokenStore::Parse("e admin short\n", "t").status().message(),
              HasSubstr("shorter than 16"));
  EXPECT_THAT(TokenStore::Parse("a admin 0123456789abcdef-1\na viewer 0123456789abcdef-2\n", "t")
                  .status()
                  .message(),
              HasSubstr("duplicate token name"));
  EXPECT_THAT(TokenStore::Parse("# nothing\n", "t").status().message(), HasSubstr("no tokens"));
  EXPECT_EQ(TokenStore::LoadFile("/nonexistent/tokens").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TokenStoreTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace rollout::control
