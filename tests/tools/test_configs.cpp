// Every training config under configs/<task>/<model>.toml is accepted by its task binary, and means what it
// says: each file is trained for one step on tiny generated data (the model shrunk by --set overrides, so a
// run takes well under a second on the CPU), and the resolved config.toml of the run must hold the file's
// model and, for every setting the test did not override, the file's value. The schedule is checked
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
#include "models/mixer.h"
#include "tools/train/trainer.h"

namespace {

namespace fs = std::filesystem;

const char* const kTasks[] = {"listops", "text", "retrieval", "image", "pathfinder"};

fs::path source_dir() {
  // __FILE__ is the absolute path CMake hands the compiler: <source>/tests/tools/test_configs.cpp.
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
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

// The flat subset of TOML the configs and the trainer's config.toml use: `key = value` lines, values a bare
// number or boolean, a "string", or an array of strings (kept as the strings joined by '\n').
std::map<std::string, std::string> read_toml(const fs::path& path, std::string* header = nullptr) {
  std::ifstream in(path);
  std::map<std::string, std::string> kv;
  std::string line;
  bool in_header = true;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    if (line[first] == '#') {
      if (in_header && header) *header += line + "\n";
      continue;
    }
    in_header = false;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(first, eq - first), value = line.substr(eq + 1);
    key.erase(key.find_last_not_of(" \t") + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r") + 1);
    if (!value.empty() && value.front() == '[') {
      std::string joined;
      size_t p = 0;
      while ((p = value.find('"', p)) != std::string::npos) {
        size_t end = value.find('"', p + 1);
        if (end == std::string::npos) break;
        joined += (joined.empty() ? "" : "\n") + value.substr(p + 1, end - p - 1);
        p = end + 1;
      }
      value = joined;
    } else if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    kv[key] = value;
  }
  return kv;
}

std::string underscores(std::string k) {
  std::replace(k.begin(), k.end(), '-', '_');
  return k;
}

const lra::train::Setting* find_setting(const std::string& toml_key) {
  for (const lra::train::Setting& s : lra::train::settings())
    if (s.name == underscores(toml_key)) return &s;
  return nullptr;
}

// What the task's binary needs to make tiny offline data, and the rows in the release's training split
// (lra-benchmark.md §1: ListOps 96,000; IMDB 25,000; AAN 147,086 pairs; CIFAR-10 45,000; Pathfinder-32
// 160,000 of each difficulty's 200,000).
std::string tiny_data_flags(const std::string& task) {
  if (task == "listops")
    return " --gen-train 8 --gen-val 4 --gen-min-length 8 --gen-max-length 32 --gen-depth 3 --gen-args 3";
  if (task == "text") return " --text-len 64";
  if (task == "retrieval") return " --text-len 64 --gen-train 8";
  if (task == "image") return " --fashion-mnist '" + (source_dir() / "tests/data/image/fashion").string() + "'";
  if (task == "pathfinder") return " --gen-count 20";
  return "";
}

int64_t release_train_size(const std::string& task) {
  if (task == "listops") return 96000;
  if (task == "text") return 25000;
  if (task == "retrieval") return 147086;
  if (task == "image") return 45000;
  if (task == "pathfinder") return 160000;
  return 0;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / name;
  fs::remove_all(p);
  return p.string();
}

// The settings each run overrides to shrink the model, the data and the evaluation.
const std::set<std::string> kOverridden = {"width", "depth", "heads", "ffn", "mlp-dim", "batch", "max-len",
                                           "eval-batches", "test-batches", "log-every", "eval-every",
                                           "schedule", "steps", "device", "out"};

class Config : public testing::TestWithParam<ConfigFile> {};

TEST_P(Config, TrainsOneStepAndKeepsItsSettings) {
  const ConfigFile& f = GetParam();
  std::string header;
  const std::map<std::string, std::string> kv = read_toml(f.path, &header);

  // The file names its model after itself and says where its values come from.
  ASSERT_TRUE(kv.count("model")) << f.path << " has no model key";
  EXPECT_EQ(kv.at("model"), f.model) << f.path << ": configs/<task>/<model>.toml must train <model>";
  EXPECT_TRUE(contains(header, "Source")) << f.path << ": the header comment must cite its source";

  // Every key is a trainer setting, the mixer list, or one of the task binary's data flags.
  const std::set<std::string> task_flags = {"size", "difficulty", "text-len"};
  for (const auto& [key, value] : kv)
    EXPECT_TRUE(find_setting(key) || key == "mixer" || task_flags.count(key)) << f.path << ": unknown key " << key;

  // The schedule holds for a real run: total steps from the release's training-set size.
  {
    lra::train::TrainConfig c;
    for (const char* key : {"lr", "batch", "steps", "epochs"})
      if (kv.count(key)) lra::train::apply_setting(c, std::string(key) + "=" + kv.at(key));
    const int64_t total = c.steps > 0 ? c.steps
                                      : int64_t(std::ceil(c.epochs * double(release_train_size(f.task) / c.batch)));
    ASSERT_GT(total, 0) << f.path;
    EXPECT_NO_THROW(lra::optim::parse_schedule(kv.count("schedule") ? kv.at("schedule") : c.schedule, c.lr, total))
        << f.path << ": the schedule does not fit a run of " << total << " steps";
  }

  // One step on tiny data. Width: 16, or a multiple of a grouped convolution's groups.
  int width = 16;
  if (kv.count("mixer")) {
    std::string list = kv.at("mixer") + "\n";
    for (size_t p = 0, nl; (nl = list.find('\n', p)) != std::string::npos; p = nl + 1)
      if (list.compare(p, 7, "groups=") == 0) width = std::lcm(width, std::stoi(list.substr(p + 7, nl - p - 7)));
  }
  const std::string dir = temp_dir("lra_config_" + f.task + "_" + f.model);
  std::string cmd = std::string(LRA_BINARY_DIR) + "/tools/lra-" + f.task + " --config '" + f.path.string() +
                    "' --generate --device cpu --steps 1" + tiny_data_flags(f.task) +
                    " --set width=" + std::to_string(width) +
                    " --set depth=1 --set heads=2 --set mlp-dim=16 --set batch=2 --set max-len=64"
                    " --set eval-batches=1 --set test-batches=1 --set log-every=1 --set eval-every=1"
                    " --set schedule=constant --out '" + dir + "'";
  if (kv.count("ffn") && kv.at("ffn") != "0") cmd += " --set ffn=16";
  lra::test::CommandResult r = lra::test::run_command(cmd);
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;

  const std::map<std::string, std::string> resolved = read_toml(dir + "/config.toml");
  ASSERT_TRUE(resolved.count("model")) << r.output;
  EXPECT_EQ(resolved.at("model"), f.model);
  for (const auto& [key, value] : kv) {
    const lra::train::Setting* s = find_setting(key);
    if (!s || kOverridden.count(key)) continue;
    // The value as the trainer prints it (e.g. 1e-4 -> 0.0001), through the setting's own parser.
    lra::train::TrainConfig c;
    lra::train::apply_setting(c, key + "=" + value);
    ASSERT_TRUE(resolved.count(key)) << key << " missing from the resolved config";
    EXPECT_EQ(resolved.at(key), s->get(c)) << f.path << ": key " << key;
  }
  if (kv.count("mixer")) {
    ASSERT_TRUE(resolved.count("mixer")) << f.path << ": the mixer settings were dropped";
    std::string list = kv.at("mixer") + "\n";
    for (size_t p = 0, nl; (nl = list.find('\n', p)) != std::string::npos; p = nl + 1)
      EXPECT_TRUE(contains("\n" + resolved.at("mixer") + "\n", "\n" + list.substr(p, nl - p) + "\n"))
          << f.path << ": mixer setting " << list.substr(p, nl - p) << " not in the run's " << resolved.at("mixer");
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
      tiny_data_flags("listops") + " --steps 1 --width 16 --depth 1 --heads 2 --ffn 16 --batch 2" +
      " --eval-batches 1 --test-batches 1 --out " + dir + "/run");
  fs::remove_all(dir);
  return r;
}

TEST(ConfigFiles, MistypedKeyFailsNamingIt) {
  lra::test::CommandResult r = listops_with("model = \"transformer\"\nwidht = 16\n", "lra_config_bad_key");
  EXPECT_NE(r.status, 0) << "a config with the unknown key 'widht' trained:\n" << r.output;
  EXPECT_TRUE(contains(r.output, "widht")) << r.output;
}

TEST(ConfigFiles, BadValueFailsNamingTheKey) {
  lra::test::CommandResult r = listops_with("model = \"transformer\"\npooling = \"avg\"\n", "lra_config_bad_value");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "pooling")) << r.output;
  EXPECT_TRUE(contains(r.output, "avg")) << r.output;
}

}  // namespace
