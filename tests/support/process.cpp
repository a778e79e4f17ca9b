#include "tests/support/process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace lra::test {

CommandResult run_command(const std::string& command) {
  static std::atomic<int> counter{0};
  const std::filesystem::path out = std::filesystem::temp_directory_path() /
                                    ("lra_cmd_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + ".out");
  CommandResult r;
  const int raw = std::system((command + " > " + out.string() + " 2>&1").c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream in(out);
  r.output.assign(std::istreambuf_iterator<char>(in), {});
  std::filesystem::remove(out);
  return r;
}

}  // namespace lra::test
