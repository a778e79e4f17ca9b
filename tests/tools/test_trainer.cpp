// The training binaries end to end on the CPU (lra-listops on small generated ListOps): a run writes its
// metrics, config, checkpoints and curves; an interrupted run resumed with --resume logs exactly the
// losses of an uninterrupted one; the written config.toml trains again through --config; a time limit
// and a NaN loss stop the run the documented way. Plus the setting parser's errors.
#include <gtest/gtest.h>

#include "tests/support/process.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/base.h"
#include "tools/train/trainer.h"

namespace {

namespace fs = std::filesystem;

using Output = lra::test::CommandResult;

// A tiny model on short generated expressions: a few seconds per run on 2 cores.
const char* kSmall =
    " --generate --gen-train 128 --gen-val 48 --gen-min-length 8 --gen-max-length 48 --gen-depth 4 --gen-args 4"
    " --width 32 --depth 1 --heads 2 --ffn 64 --batch 16 --device cpu --log-every 1 --eval-every 5";

// `prefix` wraps the command (e.g. a timeout that sends SIGINT).
Output listops(const std::string& args, const std::string& prefix = "") {
  return lra::test::run_command(prefix + std::string(LRA_BINARY_DIR) + "/tools/lra-listops" + kSmall + " " + args);
}

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / name;
  fs::remove_all(p);
  return p.string();
}

std::vector<std::string> lines_of_type(const std::string& metrics, const std::string& type) {
  std::ifstream in(metrics);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line))
    if (line.find("\"type\": \"" + type + "\"") != std::string::npos) out.push_back(line);
  return out;
}

// The text of the "loss" field of a metrics line (compared as printed, %.10g).
std::string loss_of(const std::string& line) {
  size_t p = line.find("\"loss\": ");
  if (p == std::string::npos) return "";
  p += 8;
  return line.substr(p, line.find(',', p) - p);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Trainer, ListopsRunWritesEverything) {
  std::string dir = temp_dir("lra_trainer_run");
  Output r = listops("--steps 10 --out " + dir);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "test accuracy: last")) << r.output;
  for (const char* f : {"metrics.jsonl", "config.toml", "config.json", "last.safetensors", "best.safetensors",
                        "curves.png"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f << " missing\n" << r.output;
  std::string metrics = dir + "/metrics.jsonl";
  EXPECT_EQ(lines_of_type(metrics, "train").size(), 10u);
  EXPECT_EQ(lines_of_type(metrics, "val").size(), 2u);
  EXPECT_EQ(lines_of_type(metrics, "test").size(), 2u);
  std::ifstream png(dir + "/curves.png", std::ios::binary);
  char sig[4] = {};
  png.read(sig, 4);
  EXPECT_EQ(std::string(sig + 1, 3), "PNG");
  fs::remove_all(dir);
}

TEST(Trainer, ResumeReproducesTheUninterruptedLosses) {
  std::string a = temp_dir("lra_trainer_full"), b = temp_dir("lra_trainer_resumed");
  Output full = listops("--steps 12 --seed 7 --out " + a);
  ASSERT_EQ(full.status, 0) << full.output;
  Output first = listops("--steps 12 --seed 7 --stop-after 7 --out " + b);
  ASSERT_EQ(first.status, 130) << first.output;  // stopped as if by Ctrl-C
  EXPECT_TRUE(contains(first.output, "--resume")) << first.output;
  EXPECT_FALSE(contains(first.output, "test accuracy")) << first.output;
  Output second = listops("--steps 12 --seed 7 --resume --out " + b);
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_TRUE(contains(second.output, "resumed from")) << second.output;
  std::vector<std::string> la = lines_of_type(a + "/metrics.jsonl", "train");
  std::vector<std::string> lb = lines_of_type(b + "/metrics.jsonl", "train");
  ASSERT_EQ(la.size(), 12u);
  ASSERT_EQ(lb.size(), 12u);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_EQ(loss_of(la[i]), loss_of(lb[i])) << "step " << i + 1;
  // The test accuracies of the last checkpoints agree too.
  EXPECT_EQ(lines_of_type(a + "/metrics.jsonl", "test"), lines_of_type(b + "/metrics.jsonl", "test"));
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(Trainer, ConfigFileAndSetOverrides) {
  std::string a = temp_dir("lra_trainer_cfg_a"), b = temp_dir("lra_trainer_cfg_b");
  Output r = listops("--steps 2 --pooling sum --set dropout=0.25 --out " + a);
  ASSERT_EQ(r.status, 0) << r.output;
  // The written config trains again; --set wins over the file.
  Output again = listops("--config " + a + "/config.toml --steps 2 --set lr=0.002 --out " + b);
  ASSERT_EQ(again.status, 0) << again.output;
  std::ifstream in(b + "/config.toml");
  std::string toml(std::istreambuf_iterator<char>(in), {});
  EXPECT_TRUE(contains(toml, "pooling = \"sum\"")) << toml;
  EXPECT_TRUE(contains(toml, "dropout = \"0.25\"")) << toml;
  EXPECT_TRUE(contains(toml, "lr = \"0.002\"")) << toml;
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(Trainer, CtrlCSavesACheckpointAndExitsCleanly) {
  std::string dir = temp_dir("lra_trainer_sigint");
  // SIGINT after 3 s, well inside a run that would take hours; --preserve-status passes our exit code on.
  Output r = listops("--steps 10000000 --out " + dir, "timeout --preserve-status -s INT 3 ");
  EXPECT_EQ(r.status, 130) << r.output;
  EXPECT_TRUE(contains(r.output, "interrupted (Ctrl-C): checkpoint")) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/last.safetensors"));
  EXPECT_TRUE(fs::exists(dir + "/curves.png"));
  fs::remove_all(dir);
}

TEST(Trainer, TimeLimitStopsAndStillTests) {
  std::string dir = temp_dir("lra_trainer_time");
  Output r = listops("--steps 100000 --time-limit 0.01s --out " + dir);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "time limit reached")) << r.output;
  EXPECT_TRUE(contains(r.output, "test accuracy")) << r.output;
  fs::remove_all(dir);
}

TEST(Trainer, NanLossStopsNamingStepAndCheckpoint) {
  std::string dir = temp_dir("lra_trainer_nan");
  Output r = listops("--steps 20 --lr 1e30 --clip 0 --schedule constant --out " + dir);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "training loss became")) << r.output;
  EXPECT_TRUE(contains(r.output, "learning rate")) << r.output;
  fs::remove_all(dir);
}

TEST(Trainer, BadFlagsGiveOneClearMessage) {
  Output r = listops("--steps 2 --set widht=3 --out " + temp_dir("lra_trainer_bad"));
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.output, "unknown key 'widht'")) << r.output;
  r = listops("--steps 2 --data /nonexistent --out " + temp_dir("lra_trainer_bad"));  // with --generate too
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.output, "either --data DIR")) << r.output;
  fs::remove_all(fs::temp_directory_path() / "lra_trainer_bad");
}

TEST(TrainerSettings, ParsesAndRejects) {
  lra::train::TrainConfig c;
  lra::train::apply_setting(c, "width=64");
  lra::train::apply_setting(c, "weight-decay=0.5");
  lra::train::apply_setting(c, "cls_token=true");
  lra::train::apply_setting(c, "mixer.state=16");
  EXPECT_EQ(c.width, 64);
  EXPECT_DOUBLE_EQ(c.weight_decay, 0.5);
  EXPECT_TRUE(c.cls_token);
  EXPECT_EQ(c.mixer.at("state"), "16");
  EXPECT_THROW(lra::train::apply_setting(c, "width=abc"), lra::Error);
  EXPECT_THROW(lra::train::apply_setting(c, "norm=group"), lra::Error);
  EXPECT_THROW(lra::train::apply_setting(c, "nokey"), lra::Error);
  EXPECT_DOUBLE_EQ(lra::train::parse_duration("5m"), 300.0);
  EXPECT_DOUBLE_EQ(lra::train::parse_duration("1.5h"), 5400.0);
  EXPECT_DOUBLE_EQ(lra::train::parse_duration("90"), 90.0);
  EXPECT_THROW(lra::train::parse_duration("five"), lra::Error);
}

}  // namespace
