#include "tools/train/run_log.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/base.h"

#ifndef LRA_PYTHON
#define LRA_PYTHON "/usr/bin/python3"
#endif
#ifndef LRA_SOURCE_DIR
#define LRA_SOURCE_DIR "."
#endif

namespace lra::train {
namespace fs = std::filesystem;

RunLog::RunLog(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/metrics.jsonl") {}

void RunLog::start() const {
  std::ofstream f(path_, std::ios::trunc);
  LRA_CHECK(f.good(), "cannot write ", path_);
}

std::vector<nlohmann::json> RunLog::read() const {
  std::vector<nlohmann::json> out;
  std::ifstream in(path_);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      fail(str(path_, ":", number, ": not a JSON object (", e.what(), ")"));
    }
  }
  return out;
}

void RunLog::resume(int64_t step) const {
  std::vector<nlohmann::json> kept;
  for (nlohmann::json& r : read())
    if (r.value("step", int64_t(0)) <= step && r.value("type", std::string()) != "test") kept.push_back(std::move(r));
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const nlohmann::json& r : kept) out << r.dump() << "\n";
    LRA_CHECK(out.good(), "cannot write ", tmp);
  }
  fs::rename(tmp, path_);
}

void RunLog::append(const nlohmann::json& record) const {
  std::ofstream f(path_, std::ios::app);
  f << record.dump() << "\n";
  LRA_CHECK(f.good(), "cannot append to ", path_);
}

void RunLog::plot() const { draw_plot("tools/plot/curves.py", path_, dir_ + "/curves.png", /*quiet=*/true); }

bool draw_plot(const std::string& script, const std::string& data, const std::string& png, bool quiet) {
  const std::string command =
      str("'", LRA_PYTHON, "' '", LRA_SOURCE_DIR, "/", script, "' '", data, "' '", png, "'");
  if (std::system((quiet ? command + " 2>/dev/null" : command).c_str()) == 0) return true;
  std::printf("note: %s not drawn (needs python3-matplotlib; scripts/setup.sh installs it): %s\n", png.c_str(),
              command.c_str());
  return false;
}

}  // namespace lra::train
