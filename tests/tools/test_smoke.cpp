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
#include "tools/train/run_log.h"

namespace {

namespace fs = std::filesystem;

fs::path source_dir() {
  // From CMake, not __FILE__: a compiler cache may hand the compiler a relative path.
  return fs::path(LRA_SOURCE_DIR);
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

// A mixer's --set overrides for the smoke shape: two heads where the mixer has heads.
std::string mixer_flags(const std::string& mixer) {
  for (const lra::models::OptionInfo& o : lra::models::find_mixer(mixer).options)
    if (o.key == "heads") return " --mixer heads=2";
  return "";
}

class SmokeRun : public testing::TestWithParam<Case> {};

TEST_P(SmokeRun, Trains) {
  const Case& c = GetParam();
  const fs::path dir = lra::test::scratch_dir() / ("lra_smoke_" + c.mixer + "_" + c.task);
  fs::remove_all(dir);
  const std::string cmd = std::string(LRA_BINARY_DIR) + "/tools/lra-" + c.task + " --generate --device cpu --model " +
                          c.mixer + task_flags(c.task) +
                          mixer_flags(c.mixer) +
                          " --steps 3 --width 16 --depth 1 --ffn 16 --batch 2 --lr 1e-3 --schedule constant"
                          " --log-every 1 --eval-every 3 --eval-batches 1 --test-batches 1 --seed 5 --plot false --out '" +
                          dir.string() + "'";
  lra::test::CommandResult r = lra::test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;

  ASSERT_TRUE(fs::exists(dir / "metrics.jsonl")) << "no metrics.jsonl in " << dir << "\n" << r.output;
  int train = 0, val = 0, test = 0;
  for (const nlohmann::json& line : lra::train::RunLog(dir.string()).read()) {
    const std::string type = line.at("type");
    // A non-finite loss would have stopped the run; nlohmann writes it as null, which fails here too.
    if (type == "train" || type == "val") {
      ++(type == "train" ? train : val);
      const double loss = line.at("loss").is_number() ? line.at("loss").get<double>() : std::nan("");
      EXPECT_TRUE(std::isfinite(loss) && loss > 0) << type << " loss: " << line;
    } else if (type == "test") {
      ++test;
      const double acc = line.at("acc");
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

// --eval and --predict on every binary: a one-step run of the task's first smoke mixer, then its best
// checkpoint evaluated on the test split, one prediction line per example.
class SmokeEval : public testing::TestWithParam<std::string> {};

TEST_P(SmokeEval, EvaluatesTheCheckpoint) {
  const std::string task = GetParam();
  const fs::path dir = lra::test::scratch_dir() / ("lra_smoke_eval_" + task);
  fs::remove_all(dir);
  const std::string binary = std::string(LRA_BINARY_DIR) + "/tools/lra-" + task + " --generate --device cpu" +
                             task_flags(task);
  const std::string train = binary + " --model s4d --mixer ssm_n=4 --steps 1 --width 16 --depth 1 --ffn 16 --batch 2"
                                     " --eval-batches 1 --plot false --out '" + dir.string() + "'";
  lra::test::CommandResult r = lra::test::run_command(train);
  ASSERT_EQ(r.status, 0) << train << "\n" << r.output;
  const std::string eval = binary + " --batch 2 --eval '" + (dir / "best.safetensors").string() +
                           "' --split val --predict '" + (dir / "val.jsonl").string() + "'";
  r = lra::test::run_command(eval);
  ASSERT_EQ(r.status, 0) << eval << "\n" << r.output;
  EXPECT_NE(r.output.find("confusion matrix"), std::string::npos) << r.output;
  std::ifstream in(dir / "val.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    const nlohmann::json p = nlohmann::json::parse(line);
    EXPECT_EQ(p.at("index").get<int>(), lines++);
  }
  EXPECT_GT(lines, 0) << r.output;
  EXPECT_NE(r.output.find("val: " + std::to_string(lines) + " examples"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Smoke, SmokeEval, testing::ValuesIn(std::vector<std::string>(std::begin(kTasks), std::end(kTasks))));

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
    if (line.empty() || line[0] == ' ') continue;  // a mixer's settings, indented under it
    std::istringstream words(line);
    std::string name;
    if (words >> name) listed.insert(name);
  }
  for (const Case& c : cases()) tested.insert(c.mixer);
  EXPECT_FALSE(listed.empty()) << r.output;
  EXPECT_EQ(listed, tested) << r.output;
}

}  // namespace
