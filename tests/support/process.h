// Runs a command line (a built binary under test) and captures what it prints. Each call writes to its
// own temporary file, so tests running in parallel never read each other's output.
#pragma once

#include <filesystem>
#include <string>

namespace lra::test {

// A scratch folder of this test process: <temp>/lra_tests_<pid>, created on first use and removed with
// everything in it when the process exits. Tests name their files and folders under it, so test processes
// running at once (ctest -j, several checkouts on one machine) never share a path.
const std::filesystem::path& scratch_dir();

struct CommandResult {
  int status = -1;     // the exit code, or -1 when the command was killed by a signal
  std::string output;  // stdout and stderr together
};

CommandResult run_command(const std::string& command);

}  // namespace lra::test
