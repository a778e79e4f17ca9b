// Child processes for the tools that drive other binaries (lra-speed runs one bench_train per table cell,
// lra-probe's locality and positional experiments one lra-<task> per variant): run a command with extra
// environment variables, capture its output (optionally echoing it line by line as it arrives), kill its
// whole process group on a timeout or when the parent is interrupted, so nothing outlives the tool.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace lra::tools {

struct Outcome {
  std::string output;  // stdout and stderr together
  int status = -1;     // exit code; -1 when killed by a signal
  bool timed_out = false;
  double wall_s = 0;
};

// Runs argv (argv[0] a path) in its own process group with `env` added to the environment; kills the group
// after timeout_s seconds (<= 0: no limit). With `echo`, every byte the child writes is also copied there
// as it arrives, each line prefixed by `prefix`.
Outcome run_process(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                    double timeout_s, std::FILE* echo = nullptr, const std::string& prefix = "");

// SIGINT and SIGTERM kill the running child's process group, then end this process with the same signal.
void kill_child_on_interrupt();

// The folder of the running executable (/proc/self/exe), to find the sibling binaries.
std::string self_dir();

}  // namespace lra::tools
