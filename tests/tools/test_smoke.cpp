// Smoke test: every registered mixer trains on every LRA task through the task's own binary, on the CPU,
// at tiny shapes (width 16, one block, batch 2, three steps, a few generated examples), and logs finite
// training, validation and test numbers. One named test per pair (Smoke/SmokeRun.Trains/s4d_pathfinder), so a
// failure names the mixer and the task. Retrieval runs the two-tower model with the nli head; image feeds
// pixel tokens through the embedding and pathfinder normalised pixel scalars through the linear encoder,
// so both inputs meet every mixer.
//
// Budget: the whole file runs in well under a minute on 2 cores (about 0.2 s a run; see docs/configs.md).
// Pixel tasks are cut to their first 256 positions: full 1024-long attention costs seconds on the CPU.
#include <gtest/gtest.h>

#include "tests/support/process.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "models/mixer.h"

namespace {

namespace fs = std::filesystem;

fs::path source_dir() {
  // __FILE__ is the absolute path CMake hands the compiler: <source>/tests/tools/test_smoke.cpp.
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

const char* const kTasks[] = {"listops", "text", "retrieval", "image", "pathfinder"};

// Tiny offline data for each task, and the input path it exercises.
std::string task_flags(const std::string& task) {
  if (task == "listops")
    return " --gen-train 8 --gen-val 4 --gen-min-length 8 --gen-max-length 32 --gen-depth 3 --gen-args 3";
  if (task == "text") return " --text-len 64";
  if (task == "retrieval") return " --text-len 64 --gen-train 8 --interaction nli";
  if (task == "image")
    return " --fashion-mnist '" + (source_dir() / "tests/data/image/fashion").string() +
           "' --max-len 256 --input tokens";
  if (task == "pathfinder") return " --gen-count 20 --max-len 256 --input scalars";
  return "";
}

struct Case {
  std::string mixer, task;
};
// Short names in test listings (ctest shows the parameter).
void PrintTo(const Case& c, std::ostream* os) { *os << c.mixer << " on " << c.task; }

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const lra::models::MixerEntry& e : lra::models::mixers())
    for (const char* t : kTasks) out.push_back({e.name, t});
  return out;
}

// The number after "key": in one of the trainer's metrics.jsonl lines; NaN when the key is missing.
double json_number(const std::string& line, const std::string& key) {
  const std::string pat = "\"" + key + "\": ";
  size_t p = line.find(pat);
  if (p == std::string::npos) return std::nan("");
  // The trainer prints non-finite values as nan / inf, which strtod reads back.
  return std::strtod(line.c_str() + p + pat.size(), nullptr);
}

class SmokeRun : public testing::TestWithParam<Case> {};

TEST_P(SmokeRun, Trains) {
  const Case& c = GetParam();
  const fs::path dir = fs::temp_directory_path() / ("lra_smoke_" + c.mixer + "_" + c.task);
  fs::remove_all(dir);
  const std::string cmd = std::string(LRA_BINARY_DIR) + "/tools/lra-" + c.task + " --generate --device cpu --model " +
                          c.mixer + task_flags(c.task) +
                          " --steps 3 --width 16 --depth 1 --heads 2 --ffn 16 --batch 2 --lr 1e-3 --schedule constant"
                          " --log-every 1 --eval-every 3 --eval-batches 1 --test-batches 1 --seed 5 --out '" +
                          dir.string() + "'";
  lra::test::CommandResult r = lra::test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;

  std::ifstream in(dir / "metrics.jsonl");
  ASSERT_TRUE(in) << "no metrics.jsonl in " << dir << "\n" << r.output;
  int train = 0, val = 0, test = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"type\": \"train\"") != std::string::npos) {
      ++train;
      double loss = json_number(line, "loss");
      EXPECT_TRUE(std::isfinite(loss) && loss > 0) << "training loss " << loss << ": " << line;
    } else if (line.find("\"type\": \"val\"") != std::string::npos) {
      ++val;
      double loss = json_number(line, "loss");
      EXPECT_TRUE(std::isfinite(loss) && loss > 0) << "validation loss " << loss << ": " << line;
    } else if (line.find("\"type\": \"test\"") != std::string::npos) {
      ++test;
      double acc = json_number(line, "acc");
      EXPECT_TRUE(acc >= 0 && acc <= 1) << line;
    }
  }
  EXPECT_EQ(train, 3) << "one training line per step (log-every 1)\n" << r.output;
  EXPECT_EQ(val, 1) << r.output;
  EXPECT_EQ(test, 2) << "test accuracy of the last and the best checkpoint\n" << r.output;
  // The run trained what was asked: the resolved settings name the mixer.
  std::ifstream cfg(dir / "config.toml");
  std::stringstream toml;
  toml << cfg.rdbuf();
  EXPECT_NE(toml.str().find("model = \"" + c.mixer + "\""), std::string::npos) << toml.str();
  fs::remove_all(dir);
}

std::string case_name(const testing::TestParamInfo<Case>& info) { return info.param.mixer + "_" + info.param.task; }

INSTANTIATE_TEST_SUITE_P(Smoke, SmokeRun, testing::ValuesIn(cases()), case_name);

// The smoke list is the binaries' list: a mixer the trainers offer is never left out.
TEST(Smoke, CoversEveryMixerTheTrainersList) {
  lra::test::CommandResult r = lra::test::run_command(std::string(LRA_BINARY_DIR) + "/tools/lra-listops --list-models");
  ASSERT_EQ(r.status, 0) << r.output;
  std::set<std::string> listed, tested;
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    if (words >> name) listed.insert(name);
  }
  for (const Case& c : cases()) tested.insert(c.mixer);
  EXPECT_FALSE(listed.empty()) << r.output;
  EXPECT_EQ(listed, tested) << r.output;
}

}  // namespace
