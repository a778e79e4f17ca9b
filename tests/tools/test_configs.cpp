// Every training config under configs/<task>/<model>.toml is accepted by its task binary, and means what it
// says: each file is read as the trainer reads it (every key a setting of the task), trained for one step on
// tiny generated data (the model shrunk by --set overrides, so a run takes well under a second on the CPU),
// and the resolved config.toml of the run must hold the file's model and, for every setting and mixer
// setting the test did not override, the file's value. The schedule is checked
// separately against the release's training-set size, since a one-step run cannot hold a 12,000-step
// warmup. Plus: a config with a mistyped key or a bad value fails with a message naming it.
//
// The configs are found in the source tree next to this file (tests/tools/ -> ../../configs), so the test
// needs no compile definition.
#include <gtest/gtest.h>

#include "tests/support/process.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "engine/base.h"
#include "engine/schedule.h"
#include "engine/settings.h"
#include "models/mixer.h"
#include "tasks/registry.h"
#include "tools/train/trainer.h"

namespace {

namespace fs = std::filesystem;

// The config folders: one per task, plus pathx, Path-X: the pathfinder binary with `[data] size = 128`.
const char* const kTasks[] = {"listops", "text", "retrieval", "image", "pathfinder", "pathx"};

// The task (and binary, lra-<task>) a config folder trains.
std::string task_of(const std::string& folder) { return folder == "pathx" ? "pathfinder" : folder; }

fs::path source_dir() {
  // From CMake, not __FILE__: a compiler cache may hand the compiler a relative path.
  return fs::path(LRA_SOURCE_DIR);
}

struct ConfigFile {
  std::string task, model;  // configs/<task>/<model>.toml
  fs::path path;
};
// Short names in test listings (ctest shows the parameter).
void PrintTo(const ConfigFile& f, std::ostream* os) { *os << "configs/" << f.task << "/" << f.model << ".toml"; }

std::vector<ConfigFile> config_files() {
  std::vector<ConfigFile> files;
  const fs::path root = source_dir() / "configs";
  if (!fs::is_directory(root)) return files;  // ConfigFiles.CoverEveryTaskAndMixer reports it
  for (const fs::directory_entry& task : fs::directory_iterator(root)) {
    if (!task.is_directory()) continue;
    for (const fs::directory_entry& f : fs::directory_iterator(task.path()))
      if (f.path().extension() == ".toml")
        files.push_back({task.path().filename().string(), f.path().stem().string(), f.path()});
  }
  std::sort(files.begin(), files.end(),
            [](const ConfigFile& a, const ConfigFile& b) { return a.path < b.path; });
  return files;
}

// The header comment of a file: its leading lines that start with '#'.
std::string header_of(const fs::path& path) {
  std::ifstream in(path);
  std::string header, line;
  while (std::getline(in, line) && (line.empty() || line[0] == '#')) header += line + "\n";
  return header;
}

// A config file read as the trainer reads it; *applied lists the keys it sets.
lra::train::TrainConfig read_config(const fs::path& path, const std::string& task, std::vector<std::string>* applied) {
  lra::train::TrainConfig c;
  lra::train::apply_toml_file(c, path.string(), &lra::tasks::find_task(task_of(task)), applied);
  return c;
}

// What the task's binary needs to make tiny offline data, and the rows in the release's training split
// (lra-benchmark.md §1: ListOps 96,000; IMDB 25,000; AAN 147,086 pairs; CIFAR-10 45,000; Pathfinder-32
// 160,000 of each difficulty's 200,000, times the difficulties the file trains on).
std::string tiny_data_flags(const std::string& task) {
  if (task == "listops")
    return " --gen-train 8 --gen-val 4 --gen-min-length 8 --gen-max-length 32 --gen-depth 3 --gen-args 3";
  if (task == "text") return " --text-len 64";
  if (task == "retrieval") return " --text-len 64 --gen-train 8";
  if (task == "image") return " --fashion-mnist '" + (source_dir() / "tests/data/image/fashion").string() + "'";
  if (task == "pathfinder") return " --gen-count 20";
  if (task == "pathx") return " --gen-count 20";
  return "";
}

int64_t release_train_size(const std::string& task, const lra::tasks::DataOptions& data) {
  if (task == "listops") return 96000;
  if (task == "text") return 25000;
  if (task == "retrieval") return 147086;
  if (task == "image") return 45000;
  if (task == "pathfinder" || task == "pathx") return 160000 * int64_t(data.difficulty.size());
  return 0;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string temp_dir(const std::string& name) {
  fs::path p = lra::test::scratch_dir() / name;
  fs::remove_all(p);
  return p.string();
}

// The settings each run overrides to shrink the model, the data and the evaluation.
const std::set<std::string> kOverridden = {"width", "depth", "ffn", "mlp_dim", "batch", "max_len", "eval_batches",
                                           "test_batches", "log_every", "eval_every", "schedule", "steps",
                                           "device", "out", "plot", "mixer.heads", "text_len"};

class Config : public testing::TestWithParam<ConfigFile> {};

TEST_P(Config, TrainsOneStepAndKeepsItsSettings) {
  const ConfigFile& f = GetParam();
  const lra::tasks::TaskDescriptor& task = lra::tasks::find_task(task_of(f.task));
  // Every key is a setting of the task's binary (an unknown one throws, naming file, line and key).
  std::vector<std::string> applied;
  lra::train::TrainConfig file;
  ASSERT_NO_THROW(file = read_config(f.path, f.task, &applied)) << f.path;

  // The file names its model after itself and says where its values come from.
  EXPECT_EQ(file.model.model, f.model) << f.path << ": configs/<task>/<model>.toml must train <model>";
  EXPECT_TRUE(contains(header_of(f.path), "Source")) << f.path << ": the header comment must cite its source";
  if (f.task == "pathx") EXPECT_EQ(file.data.size, 128) << f.path << ": Path-X is Pathfinder at 128 x 128";

  // The schedule holds for a real run: total steps from the release's training-set size.
  {
    const int64_t per_epoch = release_train_size(f.task, file.data) / file.batch;
    const int64_t total = file.steps > 0 ? file.steps : int64_t(std::ceil(file.epochs * double(per_epoch)));
    ASSERT_GT(total, 0) << f.path;
    EXPECT_NO_THROW(lra::optim::parse_schedule(file.schedule, file.lr, total))
        << f.path << ": the schedule does not fit a run of " << total << " steps";
  }

  // One step on tiny data. Width: 16, or a multiple of a grouped convolution's groups.
  int width = 16;
  if (file.model.mixer.count("groups")) width = std::lcm(width, std::stoi(file.model.mixer.at("groups")));
  const bool heads = file.model.mixer.count("heads") > 0;
  const std::string dir = temp_dir("lra_config_" + f.task + "_" + f.model);
  std::string cmd = std::string(LRA_BINARY_DIR) + "/tools/lra-" + task_of(f.task) + " --config '" + f.path.string() +
                    "' --generate --device cpu --steps 1" + tiny_data_flags(f.task) +
                    " --set width=" + std::to_string(width) + (heads ? " --set mixer.heads=2" : "") +
                    " --set depth=1 --set mlp-dim=16 --set batch=2 --set max-len=64"
                    " --set eval-batches=1 --set test-batches=1 --set log-every=1 --set eval-every=1"
                    " --set schedule=constant --set plot=false --out '" + dir + "'";
  if (file.model.ffn != 0) cmd += " --set ffn=16";
  lra::test::CommandResult r = lra::test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;

  // The run's config.toml holds every value of the file the test did not override.
  const lra::train::TrainConfig resolved = read_config(dir + "/config.toml", f.task, nullptr);
  const std::vector<lra::train::Setting> all = lra::train::settings_for(&task);
  for (const std::string& key : applied) {
    if (kOverridden.count(key)) continue;
    if (key.rfind("mixer.", 0) == 0) {
      const std::string k = key.substr(6);
      ASSERT_TRUE(resolved.model.mixer.count(k)) << f.path << ": mixer setting " << k << " was dropped";
      EXPECT_EQ(resolved.model.mixer.at(k), file.model.mixer.at(k)) << f.path << ": mixer setting " << k;
      continue;
    }
    const lra::train::Setting* s = lra::settings::find(all, key);
    ASSERT_NE(s, nullptr) << key;
    EXPECT_EQ(s->get(resolved), s->get(file)) << f.path << ": key " << key;
  }
  fs::remove_all(dir);
}

std::string config_name(const testing::TestParamInfo<ConfigFile>& info) {
  return info.param.task + "_" + info.param.model;
}

INSTANTIATE_TEST_SUITE_P(Configs, Config, testing::ValuesIn(config_files()), config_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Config);  // an empty configs/ fails the coverage test instead

TEST(ConfigFiles, CoverEveryTaskAndMixer) {
  const std::vector<ConfigFile> files = config_files();
  ASSERT_FALSE(files.empty()) << "no configs under " << source_dir() / "configs";
  std::set<std::string> tasks, models;
  for (const ConfigFile& f : files) {
    tasks.insert(f.task);
    models.insert(f.model);
    EXPECT_TRUE(std::find(std::begin(kTasks), std::end(kTasks), f.task) != std::end(kTasks))
        << f.path << ": configs/" << f.task << " is not a task";
  }
  for (const char* t : kTasks) {
    EXPECT_TRUE(tasks.count(t)) << "configs/" << t << " has no config";
    for (const char* m : {"transformer", "s4d"})
      EXPECT_TRUE(fs::exists(source_dir() / "configs" / t / (std::string(m) + ".toml"))) << t << " has no " << m;
  }
  // A newly registered mixer gets a published recipe (or a documented stand-in) somewhere.
  for (const lra::models::MixerEntry& e : lra::models::mixers())
    EXPECT_TRUE(models.count(e.name)) << "no configs/<task>/" << e.name << ".toml for the registered mixer " << e.name;
}

// The small ListOps run of the bad-file tests.
lra::test::CommandResult listops_with(const std::string& toml_text, const std::string& name) {
  const std::string dir = temp_dir(name);
  fs::create_directories(dir);
  {
    std::ofstream(dir + "/bad.toml") << toml_text;
  }
  lra::test::CommandResult r = lra::test::run_command(
      std::string(LRA_BINARY_DIR) + "/tools/lra-listops --config " + dir + "/bad.toml --generate --device cpu" +
      tiny_data_flags("listops") + " --steps 1 --width 16 --depth 1 --mixer heads=2 --ffn 16 --batch 2" +
      " --eval-batches 1 --test-batches 1 --out " + dir + "/run");
  fs::remove_all(dir);
  return r;
}

TEST(ConfigFiles, MistypedKeyFailsNamingIt) {
  lra::test::CommandResult r = listops_with("model = \"transformer\"\nwidht = 16\n", "lra_config_bad_key");
  EXPECT_NE(r.status, 0) << "a config with the unknown key 'widht' trained:\n" << r.output;
  EXPECT_TRUE(contains(r.output, "bad.toml:2: unknown setting 'widht'")) << r.output;
}

TEST(ConfigFiles, BadValueFailsNamingTheKey) {
  lra::test::CommandResult r = listops_with("model = \"transformer\"\npooling = \"avg\"\n", "lra_config_bad_value");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "pooling")) << r.output;
  EXPECT_TRUE(contains(r.output, "avg")) << r.output;
}

}  // namespace
