#include "cmd/rolloutctl/completion.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rollout::ctl {
namespace {

std::vector<std::string> LongFlags(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& name : o->get_lnames()) out.push_back("--" + name);
  }
  return out;
}

// One `case` arm per command path: the words that may follow it (its verbs, its flags and
// every flag of the commands above it, which are accepted after the verb too).
void Arms(const CLI::App& app, const std::string& path, std::vector<std::string> inherited,
          std::string* cases, std::string* verbs) {
  std::vector<std::string> subs;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    subs.push_back(sub->get_name());
  }
  std::vector<std::string> flags = LongFlags(app);
  flags.insert(flags.end(), inherited.begin(), inherited.end());
  std::vector<std::string> words = subs;
  for (const std::string& f : flags) {
    if (std::find(words.begin(), words.end(), f) == words.end()) words.push_back(f);
  }
  absl::StrAppend(cases, "    \"", path, "\") echo \"", absl::StrJoin(words, " "), "\" ;;\n");
  absl::StrAppend(verbs, "    \"", path, "\") echo \"", absl::StrJoin(subs, " "), "\" ;;\n");
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    Arms(*sub, path.empty() ? sub->get_name() : absl::StrCat(path, " ", sub->get_name()), flags,
         cases, verbs);
  }
}

}  // namespace

std::string BashCompletion(const CLI::App& app) {
  std::string cases, verbs;
  Arms(app, "", {}, &cases, &verbs);
  const std::string name = app.get_name().empty() ? "rolloutctl" : app.get_name();
  return absl::StrCat(
      "# bash completion for ", name, ": source <(", name, " completion bash)\n",  //
      "_", name, "_words() {\n  case \"$1\" in\n", cases, "  esac\n}\n",           //
      "_", name, "_verbs() {\n  case \"$1\" in\n", verbs, "  esac\n}\n",           //
      "_", name, "() {\n", "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=\"\" w\n",
      "  for w in \"${COMP_WORDS[@]:1:COMP_CWORD-1}\"; do\n", "    case \" $(_", name,
      "_verbs \"$path\") \" in\n", "      *\" $w \"*) path=\"${path:+$path }$w\" ;;\n",
      "    esac\n", "  done\n", "  COMPREPLY=($(compgen -W \"$(_", name,
      "_words \"$path\")\" -- \"$cur\"))\n", "}\n", "complete -F _", name, " ", name, "\n");
}

}  // namespace rollout::ctl
