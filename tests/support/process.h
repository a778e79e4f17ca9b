// Runs a command line (a built binary under test) and captures what it prints. Each call writes to its
// own temporary file, so tests running in parallel never read each other's output.
#pragma once

#include <string>

namespace lra::test {

struct CommandResult {
  int status = -1;     // the exit code, or -1 when the command was killed by a signal
  std::string output;  // stdout and stderr together
};

CommandResult run_command(const std::string& command);

}  // namespace lra::test
