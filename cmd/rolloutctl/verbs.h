// The verbs of rolloutctl, as a table: each verb's path ("status", "rollout start"), its
// one-line help, an example for its --help, the flags it takes and what it runs. main()
// builds the command line, the help and the shell completion from this table alone.
//
//   for (const Verb& v : AllVerbs()) ...  // v.flags(cmd, &args); later v.run(client, args)
//
// Thread-safety: one thread (a CLI run).
#ifndef ROLLOUT_CMD_ROLLOUTCTL_VERBS_H_
#define ROLLOUT_CMD_ROLLOUTCTL_VERBS_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cmd/rolloutctl/client.h"

namespace rollout::ctl {

// The flags of `rollout start` (the same names as the config's keys, with dashes).
struct StartFlags {
  std::string strategy = "canary", stable, candidate, steps, interval, max_p99, rollback_window,
              duration, notes, compatibility, start_at, window, approval_webhook, approval_timeout,
              load_test, load_test_timeout, max_first_message_p99, max_message_gap_p99;
  uint64_t min_requests = 0, sample_size = 0, load_test_sample = 0;
  double load_test_rate = 0;
  uint32_t failure_limit = 0, inconclusive_limit = 0;
  double mirror_percent = 0, alpha = 0;
  std::optional<double> max_error_rate, max_error_rate_increase, max_p99_ratio, max_mismatch_rate,
      max_first_message_p99_ratio, max_message_gap_p99_ratio, non_inferiority_margin,
      latency_margin;
  bool auto_promote = false;
  bool approval = false;
};

// The flags of `version add`.
struct VersionFlags {
  std::string name, pool, model, model_version, artifact, digest, notes;
};

// Every verb's arguments; each verb binds the ones it takes.
struct Args {
  std::string route;
  std::string reason;
  std::vector<std::string> assignments;  // set-weight POOL=WEIGHT ...
  int64_t expected_generation = -1;
  double window = 30;  // routes --window
  std::string since, until, page_token;
  uint32_t limit = 100;
  uint64_t id = 0;          // rollout get --id
  uint64_t to_release = 0;  // rollback
  std::string to_version;
  bool until_done = false;
  std::string interval = "1s";  // rollout watch
  int count = 0;
  std::string health_target = "127.0.0.1:8500";
  StartFlags start;
  VersionFlags version;
};

struct Verb {
  std::string path;     // words, e.g. "rollout start"; a verb without `run` is a group
  std::string help;     // one line
  std::string example;  // a whole command line, shown by --help
  std::function<void(CLI::App*, Args*)> flags;
  std::function<int(Client&, const Args&)> run;
};

std::vector<Verb> AdminVerbs();    // status, routes, set-weight, reload, audit, history, health
std::vector<Verb> RolloutVerbs();  // rollout start, pause, resume, promote, abort, get, ...
std::vector<Verb> VersionVerbs();  // version add, list, get, deactivate; rollback
inline std::vector<Verb> AllVerbs() {
  std::vector<Verb> all = AdminVerbs();
  for (Verb& v : RolloutVerbs()) all.push_back(std::move(v));
  for (Verb& v : VersionVerbs()) all.push_back(std::move(v));
  return all;
}

}  // namespace rollout::ctl

#endif  // ROLLOUT_CMD_ROLLOUTCTL_VERBS_H_
