#include "tools/common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "engine/base.h"

namespace lra::tools {
namespace {

// The process group of the running child, killed when this process is interrupted.
volatile sig_atomic_t g_child = 0;

void on_signal(int sig) {
  if (g_child > 0) kill(-pid_t(g_child), SIGKILL);
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void kill_child_on_interrupt() {
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
}

std::string self_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

Outcome run_process(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
                    double timeout_s, std::FILE* echo, const std::string& prefix) {
  LRA_CHECK(!argv.empty(), "run_process: no command");
  int fds[2];
  LRA_CHECK(pipe(fds) == 0, "pipe: ", std::strerror(errno));
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  LRA_CHECK(pid >= 0, "fork: ", std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);  // its own group, so a timeout kills the grandchildren too (torch.compile's workers)
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  setpgid(pid, pid);  // also here, so the group exists before any kill below (whichever runs first wins)
  g_child = pid;
  Outcome o;
  char buf[4096];
  bool line_start = true;
  for (;;) {
    const double left =
        timeout_s > 0 ? timeout_s - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() : 1.0;
    if (left <= 0) {
      kill(-pid, SIGKILL);
      o.timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = poll(&p, 1, int(std::min(left, 1.0) * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;  // end of file: the child closed its output (it is exiting)
    o.output.append(buf, size_t(n));
    if (echo) {
      for (ssize_t i = 0; i < n; ++i) {
        if (line_start) std::fputs(prefix.c_str(), echo);
        std::fputc(buf[i], echo);
        line_start = buf[i] == '\n';
      }
      std::fflush(echo);
    }
  }
  close(fds[0]);
  int raw = 0;
  waitpid(pid, &raw, 0);
  if (o.timed_out) kill(-pid, SIGKILL);  // anything left in its group
  g_child = 0;
  o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  o.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

}  // namespace lra::tools
