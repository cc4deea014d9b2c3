// rolloutctl: the admin CLI of rollout-proxy. Its verbs are a table (rolloutctl/verbs.h);
// this file turns the table into the command line, with the global flags accepted before
// or after the verb, and a bash completion script.
//
//   rolloutctl --admin 127.0.0.1:8501 --token-file ~/.rollout-token status
//   rolloutctl set-weight infer v1=90 v2=10 --reason "canary to 10%" --json
//   rolloutctl rollout start infer --strategy canary --stable v1 --candidate v2 --steps 5,50,100
//   rolloutctl rollout events infer --until-done
//   source <(rolloutctl completion bash)
//
// Exit codes: 0 ok, 1 rejected by the proxy, 2 usage error, 3 proxy unreachable.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "cmd/rolloutctl/client.h"
#include "cmd/rolloutctl/completion.h"
#include "cmd/rolloutctl/verbs.h"

namespace {

using namespace rollout::ctl;  // NOLINT: this file is the CLI's main

void AddGlobalFlags(CLI::App* app, Options* o) {
  app->add_option("--admin", o->admin, "admin API address")->capture_default_str();
  app->add_option("--token-file", o->token_file, "file holding only the bearer token");
  app->add_flag("--json", o->json, "print JSON instead of text");
  app->add_option("--timeout", o->timeout, "deadline of each call")->capture_default_str();
  app->add_flag("--tls", o->tls_flag, "use TLS (implied by the other --tls-* options)");
  app->add_option("--tls-ca", o->tls.ca_file, "CA of the proxy's certificate (PEM)");
  app->add_option("--tls-cert", o->tls.cert_file, "client certificate for mTLS (PEM)");
  app->add_option("--tls-key", o->tls.key_file, "its private key (PEM)");
  app->add_option("--tls-server-name", o->tls.server_name,
                  "name to check the proxy's certificate for (default: the host of the address)");
}

// Checks the TLS flags and reads the token; false (with the reason printed) on a usage error.
bool Prepare(Options* o, std::string* token) {
  o->tls.enabled = o->tls_flag || !o->tls.ca_file.empty() || !o->tls.cert_file.empty() ||
                   !o->tls.key_file.empty() || !o->tls.server_name.empty();
  if (absl::Status s = rollout::routing::CheckUpstreamTls(o->tls); !s.ok()) {
    const std::string why = absl::StrReplaceAll(
        s.message(),
        {{"ca_file", "--tls-ca"}, {"cert_file", "--tls-cert"}, {"key_file", "--tls-key"}});
    std::fprintf(stderr, "rolloutctl: %s\n", why.c_str());
    return false;
  }
  if (o->token_file.empty()) return true;
  std::ifstream in(o->token_file);
  if (!in) {
    std::fprintf(stderr, "rolloutctl: cannot read --token-file %s\n", o->token_file.c_str());
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  *token = std::string(absl::StripAsciiWhitespace(text.str()));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rolloutctl: administer rollout-proxy (weights, reloads, audit log, rollouts)",
               "rolloutctl"};
  app.fallthrough();  // set before the verbs, which inherit it: global flags after a verb
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 rejected by the proxy, 2 usage error, 3 proxy unreachable.");
  Options options;
  AddGlobalFlags(&app, &options);

  Args args;
  const std::vector<Verb> verbs = AllVerbs();
  std::map<std::string, CLI::App*> commands;  // by path
  for (const Verb& v : verbs) {
    const size_t space = v.path.rfind(' ');
    CLI::App* parent = space == std::string::npos ? &app : commands.at(v.path.substr(0, space));
    CLI::App* cmd = parent->add_subcommand(v.path.substr(space + 1), v.help);
    cmd->footer("Example:\n  " + v.example);
    if (!v.run) cmd->require_subcommand(1);  // a group: one of its verbs
    if (v.flags) v.flags(cmd, &args);
    commands[v.path] = cmd;
  }
  CLI::App* completion = app.add_subcommand("completion", "print a shell completion script");
  completion->footer("Example:\n  rolloutctl completion bash > /etc/bash_completion.d/rolloutctl");
  std::string shell;
  completion->add_option("shell", shell, "the shell")->required()->check(CLI::IsMember({"bash"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  if (*completion) {
    std::printf("%s", BashCompletion(app).c_str());
    return kOk;
  }
  std::string token;
  if (!Prepare(&options, &token)) return kUsage;
  Client client(options, token);
  for (const Verb& v : verbs) {
    if (v.run && *commands.at(v.path)) return v.run(client, args);
  }
  return kUsage;
}
