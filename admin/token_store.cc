#include "admin/token_store.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rollout::control {

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Always walks the longer string; the length difference is folded into the result.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

absl::StatusOr<TokenStore> TokenStore::Parse(absl::string_view text, absl::string_view source) {
  std::vector<Token> tokens;
  absl::flat_hash_set<std::string> names;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    const std::string where = absl::StrCat(source, ":", line_number, ": ");
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected `<name> <role> <secret>`, got ", fields.size(),
                       " fields (the line is not shown: it may hold a secret)"));
    }
    Role role;
    if (fields[1] == "admin") {
      role = Role::kAdmin;
    } else if (fields[1] == "viewer") {
      role = Role::kViewer;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "role must be admin or viewer, got \"", fields[1], "\""));
    }
    if (!names.insert(std::string(fields[0])).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "duplicate token name \"", fields[0], "\""));
    }
    if (fields[2].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "the secret of \"", fields[0], "\" is shorter than 16 characters"));
    }
    tokens.push_back({{std::string(fields[0]), role}, std::string(fields[2])});
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no tokens defined"));
  }
  return TokenStore(std::move(tokens));
}

absl::StatusOr<TokenStore> TokenStore::LoadFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open the token file"));
  std::stringstream text;
  text << file.rdbuf();
  return Parse(text.str(), path);
}

std::optional<Principal> TokenStore::Authenticate(absl::string_view secret) const {
  std::optional<Principal> found;
  for (const Token& token : tokens_) {  // no early exit: every secret is compared
    if (ConstantTimeEquals(token.secret, secret) && !found) found = token.principal;
  }
  return found;
}

}  // namespace rollout::control
