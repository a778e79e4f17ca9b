// The training binaries end to end on the CPU (lra-listops on small generated ListOps): a run writes its
// metrics, config, checkpoints and curves; an interrupted run resumed with --resume logs exactly the
// losses of an uninterrupted one; the written config.toml trains again through --config; a time limit
// and a NaN loss stop the run the documented way; a plateau reduces the lr when the validation accuracy
// stalls and a resumed run keeps its state. Plus the setting parser's errors and the optimizer's weight
// decay groups (decay_all, decay_embeddings). --eval rebuilds the model of a checkpoint and reports the test
// accuracy the run reported for it; --predict writes one line per example; a checkpoint of another model or
// task is refused naming the difference. The TOML form of the settings reloads to the same settings.
#include <gtest/gtest.h>

#include "tests/support/process.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/base.h"
#include "engine/optim.h"
#include "models/backbone/backbone.h"
#include "tools/train/run_log.h"
#include "tools/train/trainer.h"

namespace {

namespace fs = std::filesystem;

using Output = lra::test::CommandResult;

// A tiny model on short generated expressions: a few seconds per run on 2 cores.
const char* kSmall =
    " --generate --gen-train 128 --gen-val 48 --gen-min-length 8 --gen-max-length 48 --gen-depth 4 --gen-args 4"
    " --width 32 --depth 1 --mixer heads=2 --ffn 64 --batch 16 --device cpu --log-every 1 --eval-every 5";

// `prefix` wraps the command (e.g. a timeout that sends SIGINT).
Output listops(const std::string& args, const std::string& prefix = "") {
  return lra::test::run_command(prefix + std::string(LRA_BINARY_DIR) + "/tools/lra-listops" + kSmall + " " + args);
}

std::string temp_dir(const std::string& name) {
  fs::path p = lra::test::scratch_dir() / name;
  fs::remove_all(p);
  return p.string();
}

// The records of one type ("train", "val", "test") of a run's metrics.jsonl.
std::vector<nlohmann::json> records(const std::string& dir, const std::string& type) {
  std::vector<nlohmann::json> out;
  for (nlohmann::json& r : lra::train::RunLog(dir).read())
    if (r.at("type") == type) out.push_back(std::move(r));
  return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Trainer, ListopsRunWritesEverything) {
  std::string dir = temp_dir("lra_trainer_run");
  Output r = listops("--steps 10 --out " + dir);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "test accuracy: last")) << r.output;
  for (const char* f : {"metrics.jsonl", "config.toml", "last.safetensors", "best.safetensors", "curves.png"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f << " missing\n" << r.output;
  EXPECT_EQ(records(dir, "train").size(), 10u);
  EXPECT_EQ(records(dir, "val").size(), 2u);
  EXPECT_EQ(records(dir, "test").size(), 2u);
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
  std::vector<nlohmann::json> la = records(a, "train"), lb = records(b, "train");
  ASSERT_EQ(la.size(), 12u);
  ASSERT_EQ(lb.size(), 12u);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_EQ(la[i].at("loss"), lb[i].at("loss")) << "step " << i + 1;
  // The test accuracies of the last checkpoints agree too.
  EXPECT_EQ(records(a, "test"), records(b, "test"));
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
  const std::string toml = read_file(b + "/config.toml");
  EXPECT_TRUE(contains(toml, "\npooling = \"sum\"\n")) << toml;
  EXPECT_TRUE(contains(toml, "\ndropout = 0.25\n")) << toml;
  EXPECT_TRUE(contains(toml, "\nlr = 0.002\n")) << toml;
  EXPECT_TRUE(contains(toml, "\n[mixer]\nheads = 2\n")) << toml;
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
  EXPECT_EQ(r.status, 2) << r.output;  // bad settings are bad invocations
  EXPECT_TRUE(contains(r.output, "unknown key 'widht'")) << r.output;
  // A mixer key the mixer does not read is an error naming it and the mixer's keys, not a default.
  r = listops("--steps 2 --mixer kernal_size=7 --out " + temp_dir("lra_trainer_bad"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "mixer transformer: unknown setting 'kernal_size=7' (transformer takes heads"))
      << r.output;
  // A mixer value of the wrong type names the mixer, the key and what it takes.
  r = listops("--steps 2 --mixer heads=two --out " + temp_dir("lra_trainer_bad"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "mixer transformer: heads takes an integer, got 'two'")) << r.output;
  r = listops("--steps 2 --mixer rotary=sideways --out " + temp_dir("lra_trainer_bad"));
  EXPECT_TRUE(contains(r.output, "mixer transformer: rotary must be one of none, head, full, half, got 'sideways'"))
      << r.output;
  r = listops("--steps 2 --plateau patience=2,speed=3 --out " + temp_dir("lra_trainer_bad"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "unknown key 'speed'")) << r.output;
  r = listops("--steps 2 --data /nonexistent --out " + temp_dir("lra_trainer_bad"));  // with --generate too
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.output, "either --data DIR")) << r.output;
  fs::remove_all(lra::test::scratch_dir() / "lra_trainer_bad");
}

// A model whose parameters cover every kind: embeddings (ids, cls, learned positions), weights, biases,
// norms; and an S4D model for the ssm group.
std::vector<lra::nn::NamedParameter> model_parameters(const std::string& model) {
  lra::models::ModelConfig mc;
  mc.model = model;
  mc.vocab_size = 7;
  mc.max_len = 8;
  mc.width = 8;
  mc.ffn = 8;
  mc.position = lra::models::Position::Learned;
  mc.cls_token = true;
  mc.mixer = model == "s4d"      ? std::map<std::string, std::string>{{"ssm_n", "4"}}
             : model == "sgconv" ? std::map<std::string, std::string>{{"kernel_dim", "2"}}
                                 : std::map<std::string, std::string>{{"heads", "2"}};
  lra::Generator init(1);
  lra::models::LraModel m(mc, init);
  return m.named_parameters();  // the tensors outlive the module (shared storage)
}

// name -> the weight decay the run's optimizer applies to it.
std::map<std::string, double> decay_by_name(const lra::train::TrainConfig& c, const std::string& model) {
  std::unique_ptr<lra::optim::AdamW> opt = lra::train::make_optimizer(c, model_parameters(model));
  std::map<std::string, double> out;
  const lra::optim::Segments& segs = opt->segments();
  for (size_t i = 0; i < opt->parameters().size(); ++i) {
    const int64_t at = opt->slot_begin(i);
    for (int k = 0; k < segs.count; ++k)
      if (segs.seg[k].begin <= at && at < segs.seg[k].end) out[opt->parameters()[i].name] = segs.seg[k].weight_decay;
  }
  EXPECT_EQ(out.size(), opt->parameters().size()) << "a parameter outside every segment";
  return out;
}

TEST(TrainerOptimizer, WeightDecayGroups) {
  lra::train::TrainConfig c;
  c.weight_decay = 0.25;
  const char* bias = "blocks.0.ffn.fc1.bias";
  const char* norm = "blocks.0.norm1.weight";
  const char* weight = "blocks.0.mixer.qkv.weight";
  // Default: weights and embedding tables decayed; biases and norms not.
  std::map<std::string, double> d = decay_by_name(c, "transformer");
  for (const char* n : {"embed", "cls", "pos", weight, "head.out.weight"}) EXPECT_EQ(d.at(n), 0.25) << n;
  for (const char* n : {bias, norm, "final_norm.bias"}) EXPECT_EQ(d.at(n), 0.0) << n;
  // decay_all: every parameter, as the LRA code.
  c.decay_all = true;
  d = decay_by_name(c, "transformer");
  for (const auto& [name, wd] : d) EXPECT_EQ(wd, 0.25) << name << " with decay_all";
  // decay_embeddings = false: the tables (ids, cls, learned positions) only lose their decay.
  c.decay_embeddings = false;
  d = decay_by_name(c, "transformer");
  for (const char* n : {"embed", "cls", "pos"}) EXPECT_EQ(d.at(n), 0.0) << n;
  for (const char* n : {weight, bias, norm}) EXPECT_EQ(d.at(n), 0.25) << n;
  c.decay_all = false;
  d = decay_by_name(c, "transformer");
  for (const char* n : {"embed", "cls", "pos", bias, norm}) EXPECT_EQ(d.at(n), 0.0) << n;
  EXPECT_EQ(d.at(weight), 0.25);
  // The ssm group is never decayed, decay_all or not; S4D's other weights are.
  c.decay_all = true;
  c.decay_embeddings = true;
  d = decay_by_name(c, "s4d");
  for (const char* n : {"blocks.0.mixer.log_dt", "blocks.0.mixer.log_A_real", "blocks.0.mixer.A_imag"})
    EXPECT_EQ(d.at(n), 0.0) << n;
  EXPECT_EQ(d.at("blocks.0.mixer.out_weight"), 0.25);
  EXPECT_EQ(d.at("blocks.0.mixer.out_bias"), 0.25);
}

// SGConv's sub-kernels (group ssm_decay): the ssm lr, and weight decay as any weight (gconv.py's _optim sets
// only the lr).
TEST(TrainerOptimizer, SsmDecayGroupTakesTheSsmLrAndKeepsWeightDecay) {
  lra::train::TrainConfig c;
  c.lr = 0.01;
  c.ssm_lr = 0.001;
  c.weight_decay = 0.05;
  std::unique_ptr<lra::optim::AdamW> opt = lra::train::make_optimizer(c, model_parameters("sgconv"));
  const lra::optim::Segments& segs = opt->segments();
  int kernels = 0;
  for (size_t i = 0; i < opt->parameters().size(); ++i) {
    const std::string& name = opt->parameters()[i].name;
    const int64_t at = opt->slot_begin(i);
    for (int k = 0; k < segs.count; ++k) {
      if (!(segs.seg[k].begin <= at && at < segs.seg[k].end)) continue;
      if (name.rfind("blocks.0.mixer.kernel_", 0) == 0) {
        ++kernels;
        EXPECT_NEAR(segs.seg[k].lr_scale, 0.1, 1e-12) << name;
        EXPECT_EQ(segs.seg[k].weight_decay, 0.05) << name;
      } else if (name == "blocks.0.mixer.D") {
        EXPECT_EQ(segs.seg[k].lr_scale, 1.0);
        EXPECT_EQ(segs.seg[k].weight_decay, 0.05);
      }
    }
  }
  EXPECT_GT(kernels, 0);
}

// A run whose validation accuracy cannot change (lr 1e-12 leaves float32 parameters untouched) has its lr
// halved after every second evaluation without improvement (patience 1); the schedule alone is constant.
TEST(Trainer, PlateauReducesTheLrWhenValidationStalls) {
  std::string dir = temp_dir("lra_trainer_plateau");
  Output r = listops("--steps 12 --lr 1e-12 --schedule constant --eval-every 2 --plateau factor=0.5,patience=1 --out " +
                     dir);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "plateau: no better validation accuracy for 2 evaluations; lr scale now 0.5"))
      << r.output;
  std::vector<nlohmann::json> train = records(dir, "train");
  ASSERT_EQ(train.size(), 12u);
  // Evaluations at steps 2, 4, ...: the first sets the best, reductions after those at 6 and 10.
  for (size_t i = 0; i < train.size(); ++i) {
    const int step = int(i) + 1;
    const double want = step <= 6 ? 1e-12 : step <= 10 ? 5e-13 : 2.5e-13;
    EXPECT_DOUBLE_EQ(train[i].at("lr").get<double>(), want) << "step " << step;
  }
  std::vector<nlohmann::json> val = records(dir, "val");
  ASSERT_EQ(val.size(), 6u);
  EXPECT_DOUBLE_EQ(val.back().at("lr_scale").get<double>(), 0.25);
  fs::remove_all(dir);
}

// The plateau's state (best accuracy, bad evaluations, scale) travels in the checkpoint: a run stopped
// after step 7 and resumed has exactly the learning rates of the uninterrupted run (a fresh plateau
// would go back to scale 1 and reduce at step 12 instead).
TEST(Trainer, ResumeKeepsThePlateauState) {
  std::string a = temp_dir("lra_trainer_plateau_full"), b = temp_dir("lra_trainer_plateau_resumed");
  const std::string args = "--steps 12 --lr 1e-12 --schedule constant --eval-every 2 --plateau factor=0.5,patience=1 ";
  Output full = listops(args + "--out " + a);
  ASSERT_EQ(full.status, 0) << full.output;
  Output first = listops(args + "--stop-after 7 --out " + b);
  ASSERT_EQ(first.status, 130) << first.output;
  Output second = listops(args + "--resume --out " + b);
  ASSERT_EQ(second.status, 0) << second.output;
  std::vector<nlohmann::json> la = records(a, "train"), lb = records(b, "train");
  ASSERT_EQ(la.size(), 12u);
  ASSERT_EQ(lb.size(), 12u);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_EQ(la[i].at("lr"), lb[i].at("lr")) << "step " << i + 1;
  EXPECT_EQ(records(a, "val"), records(b, "val"));
  fs::remove_all(a);
  fs::remove_all(b);
}

// The model settings of the published recipes train and are written to config.toml.
TEST(Trainer, HeadBiasNormAndDecaySettingsTrain) {
  std::string dir = temp_dir("lra_trainer_recipe_settings");
  Output r = listops("--steps 2 --head-layers 0 --mixer attention_bias=true --final-norm false --decay-all true"
                     " --decay-embeddings false --out " + dir);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "none on")) << r.output;
  const std::string toml = read_file(dir + "/config.toml");
  for (const char* line : {"\nhead_layers = 0\n", "\nattention_bias = true\n", "\nfinal_norm = false\n",
                           "\ndecay_all = true\n", "\ndecay_embeddings = false\n", "\nplateau = \"none\"\n"})
    EXPECT_TRUE(contains(toml, line)) << line << " not in\n" << toml;
  fs::remove_all(dir);
}

TEST(TrainerSettings, Plateau) {
  EXPECT_FALSE(lra::train::parse_plateau("none").has_value());
  EXPECT_FALSE(lra::train::parse_plateau("").has_value());
  std::optional<lra::optim::PlateauConfig> on = lra::train::parse_plateau("on");
  ASSERT_TRUE(on.has_value());
  EXPECT_TRUE(on->maximize);
  EXPECT_DOUBLE_EQ(on->factor, 0.1);
  EXPECT_EQ(on->patience, 10);
  std::optional<lra::optim::PlateauConfig> p =
      lra::train::parse_plateau("factor=0.2,patience=20,threshold=0.01,cooldown=2,min_lr=1e-6,metric=loss");
  ASSERT_TRUE(p.has_value());
  EXPECT_DOUBLE_EQ(p->factor, 0.2);
  EXPECT_EQ(p->patience, 20);
  EXPECT_DOUBLE_EQ(p->threshold, 0.01);
  EXPECT_EQ(p->cooldown, 2);
  EXPECT_DOUBLE_EQ(p->min_lr, 1e-6);
  EXPECT_FALSE(p->maximize);
  auto message = [](const std::string& spec) {
    try {
      lra::train::parse_plateau(spec);
    } catch (const lra::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_TRUE(contains(message("factor=2"), "factor")) << message("factor=2");
  EXPECT_TRUE(contains(message("patience=x"), "patience")) << message("patience=x");
  EXPECT_TRUE(contains(message("metric=f1"), "metric")) << message("metric=f1");
  EXPECT_TRUE(contains(message("patience=3,patience=4"), "given twice")) << message("patience=3,patience=4");
  EXPECT_TRUE(contains(message("reduce"), "key=value")) << message("reduce");
  lra::train::TrainConfig c;
  lra::train::apply_setting(c, "plateau=factor=0.5,patience=3");
  EXPECT_EQ(c.plateau, "factor=0.5,patience=3");
  EXPECT_THROW(lra::train::apply_setting(c, "plateau=speed=1"), lra::Error);
}

TEST(TrainerSettings, ParsesAndRejects) {
  lra::train::TrainConfig c;
  lra::train::apply_setting(c, "width=64");
  lra::train::apply_setting(c, "weight-decay=0.5");
  lra::train::apply_setting(c, "cls_token=true");
  lra::train::apply_setting(c, "mixer.state=16");
  lra::train::apply_setting(c, "head-layers=0");
  lra::train::apply_setting(c, "decay-all=true");
  lra::train::apply_setting(c, "decay_embeddings=false");
  lra::train::apply_setting(c, "mixer.attention_bias=on");
  lra::train::apply_setting(c, "final-norm=off");
  lra::train::apply_setting(c, "norm=batch");
  EXPECT_EQ(c.model.head_layers, 0);
  EXPECT_TRUE(c.decay_all);
  EXPECT_FALSE(c.decay_embeddings);
  EXPECT_EQ(c.model.mixer.at("attention_bias"), "on");
  EXPECT_FALSE(c.model.final_norm);
  EXPECT_EQ(c.model.norm, lra::models::NormKind::Batch);
  const lra::train::TrainConfig defaults;  // today's behaviour
  EXPECT_EQ(defaults.model.head_layers, 1);
  EXPECT_FALSE(defaults.decay_all);
  EXPECT_TRUE(defaults.decay_embeddings);
  EXPECT_TRUE(defaults.model.final_norm);
  EXPECT_EQ(defaults.plateau, "none");
  EXPECT_EQ(defaults.denoise_mode, lra::train::DenoiseMode::Separate);
  EXPECT_EQ(defaults.denoise_targets, lra::tasks::DenoiseTargets::Corrupted);
  EXPECT_EQ(c.model.width, 64);
  EXPECT_DOUBLE_EQ(c.weight_decay, 0.5);
  EXPECT_TRUE(c.model.cls_token);
  EXPECT_EQ(c.model.mixer.at("state"), "16");
  EXPECT_THROW(lra::train::apply_setting(c, "width=abc"), lra::Error);
  EXPECT_THROW(lra::train::apply_setting(c, "norm=group"), lra::Error);
  try {
    lra::train::apply_setting(c, "denoise_mode=one_pass");
    ADD_FAILURE() << "denoise_mode=one_pass accepted";
  } catch (const lra::Error& e) {
    EXPECT_TRUE(contains(e.what(), "setting denoise_mode must be one of separate, single_pass")) << e.what();
  }
  EXPECT_THROW(lra::train::apply_setting(c, "denoise_targets=masked"), lra::Error);
  EXPECT_THROW(lra::train::apply_setting(c, "nokey"), lra::Error);
  EXPECT_DOUBLE_EQ(lra::train::parse_duration("5m"), 300.0);
  EXPECT_DOUBLE_EQ(lra::train::parse_duration("1.5h"), 5400.0);
  EXPECT_DOUBLE_EQ(lra::train::parse_duration("90"), 90.0);
  EXPECT_THROW(lra::train::parse_duration("five"), lra::Error);
}

// --eval rebuilds the model from the checkpoint and reports, on the test split, exactly the accuracy the
// run reported for that checkpoint; --predict writes one line per test example whose argmaxes give it.
TEST(TrainerEval, EvalReproducesTheReportedTestAccuracy) {
  const std::string dir = temp_dir("lra_trainer_eval");
  Output run = listops("--steps 10 --out " + dir);
  ASSERT_EQ(run.status, 0) << run.output;
  std::vector<nlohmann::json> tests = records(dir, "test");
  ASSERT_EQ(tests.size(), 2u);
  for (const nlohmann::json& t : tests) {
    const std::string which = t.at("checkpoint");
    const std::string preds = dir + "/" + which + ".jsonl";
    // Only the data flags of kSmall matter: the model comes from the checkpoint.
    Output e = listops("--eval " + dir + "/" + which + ".safetensors --split test --predict " + preds);
    ASSERT_EQ(e.status, 0) << e.output;
    EXPECT_TRUE(contains(e.output, "per-class accuracy")) << e.output;
    EXPECT_TRUE(contains(e.output, "confusion matrix")) << e.output;
    std::ifstream in(preds);
    std::string line;
    int64_t n = 0, correct = 0;
    while (std::getline(in, line)) {
      const nlohmann::json p = nlohmann::json::parse(line);
      EXPECT_EQ(p.at("index").get<int64_t>(), n);
      const std::vector<double> prob = p.at("probabilities");
      ASSERT_EQ(prob.size(), 10u);
      double sum = 0;
      for (double v : prob) sum += v;
      EXPECT_NEAR(sum, 1.0, 1e-9);
      EXPECT_EQ(std::max_element(prob.begin(), prob.end()) - prob.begin(), p.at("predicted").get<int64_t>());
      correct += p.at("predicted") == p.at("label");
      ++n;
    }
    EXPECT_EQ(n, 48) << "one line per test example (--gen-val 48)";
    EXPECT_DOUBLE_EQ(double(correct) / double(n), t.at("acc").get<double>()) << which;
    char printed[32];
    std::snprintf(printed, sizeof printed, "accuracy %.2f%%", 100 * t.at("acc").get<double>());
    EXPECT_TRUE(contains(e.output, printed)) << printed << " not in\n" << e.output;
  }
  fs::remove_all(dir);
}

TEST(TrainerEval, RefusesAnotherModelOrTaskNamingTheDifference) {
  const std::string dir = temp_dir("lra_trainer_eval_refuse");
  Output run = listops("--steps 1 --out " + dir);
  ASSERT_EQ(run.status, 0) << run.output;
  const std::string ckpt = dir + "/last.safetensors";
  Output e = listops("--eval " + ckpt + " --width 64 --model s4d");
  EXPECT_EQ(e.status, 1) << e.output;
  EXPECT_TRUE(contains(e.output, "width: the checkpoint has 32, asked 64")) << e.output;
  EXPECT_TRUE(contains(e.output, "model: the checkpoint has transformer, asked s4d")) << e.output;
  e = listops("--eval " + ckpt + " --mixer heads=4");
  EXPECT_EQ(e.status, 1) << e.output;
  EXPECT_TRUE(contains(e.output, "mixer.heads: the checkpoint has 2, asked 4")) << e.output;
  e = lra::test::run_command(std::string(LRA_BINARY_DIR) + "/tools/lra-text --generate --eval " + ckpt);
  EXPECT_EQ(e.status, 1) << e.output;
  EXPECT_TRUE(contains(e.output, "was trained by lra-listops")) << e.output;
  e = listops("--eval " + dir + "/metrics.jsonl");
  EXPECT_EQ(e.status, 1) << e.output;
  EXPECT_TRUE(contains(e.output, "metrics.jsonl")) << e.output;
  fs::remove_all(dir);
}

// config.toml is typed TOML and reads back to the same settings, the mixer's included.
TEST(TrainerSettings, TomlRoundTrip) {
  const lra::tasks::TaskDescriptor& task = lra::tasks::find_task("pathfinder");
  lra::train::TrainConfig c;
  for (const char* a : {"model=local", "width=48", "prenorm=false", "pooling=masked_mean", "lr=3e-4",
                        "eps=1e-9", "schedule=cosine:warmup=10", "seed=77", "size=64", "difficulty=easy",
                        "mixer.heads=3", "mixer.grouping=strided", "mixer.attention_dropout=0.25",
                        "mixer.causal=1", "out=runs/x y", "denoise-mode=single_pass", "denoise_targets=all"})
    lra::train::apply_setting(c, a, &task);
  const std::string toml = lra::train::config_toml(c, &task);
  for (const char* line : {"\nwidth = 48\n", "\nprenorm = false\n", "\npooling = \"masked_mean\"\n",
                           "\nlr = 0.0003\n", "\neps = 1e-9\n", "\nepochs = 0.0\n", "\n[data]\nsize = 64\n",
                           "\n[mixer]\n", "\nheads = 3\n", "\ncausal = true\n", "\ngrouping = \"strided\"\n",
                           "\nattention_dropout = 0.25\n", "\ndenoise_mode = \"single_pass\"\n",
                           "\ndenoise_targets = \"all\"\n"})
    EXPECT_TRUE(contains(toml, line)) << line << " not in\n" << toml;
  lra::train::TrainConfig back;
  lra::train::apply_toml(back, toml, "config.toml", &task);
  EXPECT_EQ(lra::train::config_toml(back, &task), toml);
  EXPECT_EQ(back.model.width, 48);
  EXPECT_EQ(back.data.size, 64);
  EXPECT_EQ(back.model.mixer.at("causal"), "true");
  EXPECT_EQ(back.denoise_mode, lra::train::DenoiseMode::SinglePass);
  EXPECT_EQ(back.denoise_targets, lra::tasks::DenoiseTargets::All);
}

TEST(TrainerSettings, TomlErrorsNameFileLineAndKey) {
  auto message = [](const std::string& text) {
    lra::train::TrainConfig c;
    try {
      lra::train::apply_toml(c, text, "my.toml", &lra::tasks::find_task("listops"));
    } catch (const lra::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_TRUE(contains(message("model = \"s4d\"\nwidht = 3\n"), "my.toml:2: unknown setting 'widht'"))
      << message("model = \"s4d\"\nwidht = 3\n");
  EXPECT_TRUE(contains(message("width = \"64\"\n"), "my.toml:1: setting width takes an integer, got a string"))
      << message("width = \"64\"\n");
  EXPECT_TRUE(contains(message("prenorm = 1\n"), "my.toml:1: setting prenorm takes true or false, got an integer"))
      << message("prenorm = 1\n");
  EXPECT_TRUE(contains(message("norm = \"group\"\n"), "my.toml:1: setting norm must be one of layer, batch"))
      << message("norm = \"group\"\n");
  EXPECT_TRUE(contains(message("\n[data]\nsize = 64\n"), "my.toml:3: unknown [data] setting 'size'"))
      << message("\n[data]\nsize = 64\n");  // a pathfinder setting, not listops'
  EXPECT_TRUE(contains(message("mixer = [\"a=1\"]\n"), "my.toml:1: mixer must be a table"))
      << message("mixer = [\"a=1\"]\n");
  EXPECT_TRUE(contains(message("width = \n"), "my.toml:1:")) << message("width = \n");
  // Dashes and underscores name the same setting.
  lra::train::TrainConfig c;
  lra::train::apply_toml(c, "head-layers = 0\nhead_layers = 0\n", "x.toml");
  EXPECT_EQ(c.model.head_layers, 0);
}

}  // namespace
