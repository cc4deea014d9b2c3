// Reader: typed reads of YAML nodes for the config loader (internal to config/). Every
// error carries the source, the line and the field path; yaml-cpp reports failures by
// throwing, and the loader is the boundary where they turn into absl::Status.
//
//   Reader in("proxy.yaml");
//   absl::StatusOr<absl::Duration> d = in.Duration(node["interval"], "analysis.interval");
//
// Thread-safety: immutable once made.
#ifndef ROLLOUT_CONFIG_YAML_READER_H_
#define ROLLOUT_CONFIG_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "routing/host_port.h"

namespace rollout::control {

class Reader {
 public:
  explicit Reader(absl::string_view source) : source_(source) {
    const size_t slash = source_.rfind('/');
    if (slash != std::string::npos) dir_ = source_.substr(0, slash + 1);
  }

  // A file path from the config: relative paths are relative to the config file's folder.
  std::string Path(const std::string& path) const {
    return path.empty() || path.front() == '/' ? path : dir_ + path;
  }

  absl::Status Error(const YAML::Node& node, absl::string_view path, absl::string_view what) const {
    const YAML::Mark mark = node.Mark();
    const std::string where = mark.is_null() ? source_ : absl::StrCat(source_, ":", mark.line + 1);
    if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", path, ": ", what));
  }

  // Fails on a non-map node, a duplicate key, or an unknown key.
  absl::Status CheckKeys(const YAML::Node& node, absl::string_view path,
                         std::initializer_list<absl::string_view> allowed) const {
    return CheckKeys(node, path, std::vector<absl::string_view>(allowed));
  }
  absl::Status CheckKeys(const YAML::Node& node, absl::string_view path,
                         const std::vector<absl::string_view>& allowed) const {
    if (!node.IsMap()) return Error(node, path, "must be a mapping of key: value");
    absl::flat_hash_set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.Scalar();
      const std::string key_path = path.empty() ? key : absl::StrCat(path, ".", key);
      if (!seen.insert(key).second) return Error(it->first, key_path, "duplicate key");
      bool known = false;
      for (absl::string_view a : allowed) known = known || a == key;
      if (known) continue;
      return Error(
          it->first, key_path,
          absl::StrCat("unknown key \"", key, "\" (allowed: ", absl::StrJoin(allowed, ", "), ")"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const YAML::Node& node, absl::string_view path) const {
    if (!node.IsScalar()) return Error(node, path, "must be a string");
    return node.Scalar();
  }

  absl::StatusOr<std::string> Address(const YAML::Node& node, absl::string_view path,
                                      routing::PortZero port_zero) const {
    absl::StatusOr<std::string> text = String(node, path);
    if (!text.ok()) return text.status();
    if (absl::Status s = routing::ValidateHostPort(*text, port_zero); !s.ok()) {
      return Error(node, path, s.message());
    }
    return text;
  }

  absl::StatusOr<double> Number(const YAML::Node& node, absl::string_view path) const {
    double value = 0;
    if (!node.IsScalar() || !YAML::convert<double>::decode(node, value)) {
      return Error(node, path, absl::StrCat("must be a number, got \"", Dump(node), "\""));
    }
    return value;
  }

  absl::StatusOr<int64_t> Integer(const YAML::Node& node, absl::string_view path, int64_t min,
                                  int64_t max) const {
    int64_t value = 0;
    if (!node.IsScalar() || !YAML::convert<int64_t>::decode(node, value)) {
      return Error(node, path, absl::StrCat("must be an integer, got \"", Dump(node), "\""));
    }
    if (value < min || value > max) {
      return Error(node, path, absl::StrCat(value, " is out of range ", min, "..", max));
    }
    return value;
  }

  absl::StatusOr<bool> Bool(const YAML::Node& node, absl::string_view path) const {
    absl::StatusOr<std::string> text = String(node, path);
    if (!text.ok()) return text.status();
    if (*text != "true" && *text != "false") return Error(node, path, "must be true or false");
    return *text == "true";
  }

  absl::StatusOr<absl::Duration> Duration(const YAML::Node& node, absl::string_view path) const {
    absl::StatusOr<std::string> text = String(node, path);
    if (!text.ok()) return text.status();
    absl::Duration d;
    if (!absl::ParseDuration(*text, &d) || d < absl::ZeroDuration() ||
        d == absl::InfiniteDuration()) {
      return Error(node, path,
                   absl::StrCat("bad duration \"", *text, "\" (use e.g. 500ms, 10s, 1m)"));
    }
    return d;
  }

  // `node` as one canonical line: the same for the same content, whatever the comments,
  // layout, quoting or key order of the file. Scalars are quoted, maps sorted by key.
  static std::string Canonical(const YAML::Node& node) {
    std::string out;
    AppendCanonical(node, &out);
    return out;
  }

 private:
  static std::string Dump(const YAML::Node& node) {
    if (node.IsScalar()) return node.Scalar();
    YAML::Emitter out;
    out << YAML::Flow << node;
    return out.c_str();
  }

  static void AppendCanonical(const YAML::Node& node, std::string* out) {
    if (node.IsSequence()) {
      *out += '[';
      for (size_t i = 0; i < node.size(); ++i) {
        if (i > 0) *out += ',';
        AppendCanonical(node[i], out);
      }
      *out += ']';
    } else if (node.IsMap()) {
      std::map<std::string, std::string> entries;
      for (auto it = node.begin(); it != node.end(); ++it) {
        AppendCanonical(it->second, &entries[it->first.Scalar()]);
      }
      *out += '{';
      for (const auto& [key, value] : entries) {
        if (out->back() != '{') *out += ',';
        absl::StrAppend(out, Quote(key), ":", value);
      }
      *out += '}';
    } else if (node.IsScalar()) {
      *out += Quote(node.Scalar());
    } else {
      *out += "~";  // null
    }
  }
  static std::string Quote(const std::string& s) {
    return absl::StrCat("\"", absl::CEscape(s), "\"");
  }

  std::string source_;
  std::string dir_;  // the config file's folder, with its slash; empty: the working dir
};

}  // namespace rollout::control

#endif  // ROLLOUT_CONFIG_YAML_READER_H_
