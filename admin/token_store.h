// TokenStore: the admin API's bearer tokens and their roles.
//
// The token file has one token per line, `<name> <role> <secret>`, where role is `admin` or
// `viewer`; `#` starts a comment and blank lines are ignored. Names are what the audit log
// records as the actor; secrets are never logged or echoed in errors.
//
//   absl::StatusOr<TokenStore> tokens = TokenStore::LoadFile("admin.tokens");
//   std::optional<Principal> who = tokens->Authenticate(secret_from_header);
//
// Thread-safety: immutable after construction.
#ifndef ROLLOUT_ADMIN_TOKEN_STORE_H_
#define ROLLOUT_ADMIN_TOKEN_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rollout::control {

enum class Role { kViewer, kAdmin };

struct Principal {
  std::string name;
  Role role;
};

class TokenStore final {
 public:
  static absl::StatusOr<TokenStore> LoadFile(const std::string& path);
  // `source` names the text in error messages.
  static absl::StatusOr<TokenStore> Parse(absl::string_view text, absl::string_view source);

  // The token whose secret equals `secret`. Every stored secret is compared in constant
  // time, so the answer's timing says nothing about how much of a secret matched.
  std::optional<Principal> Authenticate(absl::string_view secret) const;

  size_t size() const { return tokens_.size(); }

 private:
  struct Token {
    Principal principal;
    std::string secret;
  };
  explicit TokenStore(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  std::vector<Token> tokens_;
};

// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace rollout::control

#endif  // ROLLOUT_ADMIN_TOKEN_STORE_H_
