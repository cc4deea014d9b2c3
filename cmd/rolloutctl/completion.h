// BashCompletion: a bash completion script for a CLI11 command tree (rolloutctl's), made
// from the tree itself, so that every verb and flag in the table completes.
//
//   source <(rolloutctl completion bash)
//
// Thread-safety: a pure function.
#ifndef ROLLOUT_CMD_ROLLOUTCTL_COMPLETION_H_
#define ROLLOUT_CMD_ROLLOUTCTL_COMPLETION_H_

#include <CLI/CLI.hpp>
#include <string>

namespace rollout::ctl {

std::string BashCompletion(const CLI::App& app);

}  // namespace rollout::ctl

#endif  // ROLLOUT_CMD_ROLLOUTCTL_COMPLETION_H_
