#include "tests/support/process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace lra::test {

namespace {

struct Scratch {
  std::filesystem::path path;
  Scratch() : path(std::filesystem::temp_directory_path() / ("lra_tests_" + std::to_string(getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);  // at exit: nothing to report to
  }
};

}  // namespace

const std::filesystem::path& scratch_dir() {
  static const Scratch scratch;
  return scratch.path;
}

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
