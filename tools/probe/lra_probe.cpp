// lra-probe: pictures and numbers that show what each mixer does, computed from the running code
// (docs/probes.md). Commands:
//   pattern   the token-mixing map |∂y_i/∂x_j| of one mixer layer (tools/probe/pattern.h), written as
//             DIR/pattern-<model>.json and drawn as DIR/pattern-<model>.png by tools/probe/plot_pattern.py
//   kernels   the convolution kernels of every layer of a checkpoint (tools/probe/kernels.h)
//   receptive-field
//             mean |d logit_pred / d embedding_s| over real examples against the input position s
//             (tools/probe/receptive_field.h), DIR/receptive_field.json and .png
//   locality  the locality-bias paper's Table 1: the residual-convolution probe trained at each kernel size
//             (tools/probe/experiments.h), OUT/locality.{json,md,png}, one run directory per K in OUT/runs
//   positional
//             its Table 4: rotary against summed learned / sinusoidal encodings and none,
//             OUT/positional.{json,md,png}
//
// Settings precedence for `pattern`: the checkpoint's stored run configuration (model, width, [mixer]),
// then --config FILE.toml, then the flags given on the command line.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/base.h"
#include "models/mixer.h"
#include "tools/common/subprocess.h"
#include "tools/probe/experiments.h"
#include "tools/probe/kernels.h"
#include "tools/probe/pattern.h"
#include "tools/probe/receptive_field.h"
#include "tools/train/run_log.h"

namespace {

using namespace lra;

struct PatternArgs {
  probe::PatternSettings s;
  std::string config;
  std::vector<std::string> mixer;  // key=value
  std::string out;
  bool no_plot = false;
};

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  LRA_CHECK(f.good(), "--config: cannot read ", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

int run_pattern(PatternArgs& a, const CLI::App& app) {
  // Start from the checkpoint's run configuration and the --config file; flags given explicitly win.
  probe::PatternSettings s;
  if (!a.s.checkpoint.empty()) {
    const std::string stored = probe::checkpoint_config(a.s.checkpoint);
    if (!stored.empty()) probe::apply_config_toml(s, stored, a.s.checkpoint + " (stored config)");
  }
  if (!a.config.empty()) probe::apply_config_toml(s, read_file(a.config), a.config);
  if (app.count("--model") || s.model.empty()) s.model = a.s.model;
  LRA_CHECK(!s.model.empty(), "pattern: --model is required (or a --config / --checkpoint that names one)");
  if (app.count("--width") || (a.config.empty() && a.s.checkpoint.empty())) s.width = a.s.width;
  for (const std::string& kv : a.mixer) {
    const auto eq = kv.find('=');
    LRA_CHECK(eq != std::string::npos && eq > 0, "--mixer takes key=value, got '", kv, "'");
    s.mixer[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  s.length = a.s.length;
  s.max_len = a.s.max_len;
  s.inputs = a.s.inputs;
  s.seed = a.s.seed;
  s.checkpoint = a.s.checkpoint;
  s.layer = a.s.layer;

  const probe::PatternMap m = probe::token_mixing_map(s);
  std::filesystem::create_directories(a.out);
  const std::string json = a.out + "/pattern-" + s.model + ".json";
  {
    std::ofstream f(json);
    f << probe::pattern_json(m) << "\n";
    LRA_CHECK(f.good(), "cannot write ", json);
  }
  std::printf("pattern %s: L %lld, width %d, %d input(s), %s -> %s\n", s.model.c_str(), (long long)m.L, s.width,
              s.inputs, m.weights.c_str(), json.c_str());
  if (!a.no_plot) {
    const std::string png = a.out + "/pattern-" + s.model + ".png";
    if (train::draw_plot("tools/probe/plot_pattern.py", json, png)) std::printf("drew %s\n", png.c_str());
  }
  return 0;
}

// locality and positional: their shared options.
struct ExperimentArgs {
  std::string task, list, out;
  probe::SweepSettings s;
  bool quiet = false, no_plot = false;
};

CLI::App* add_experiment(CLI::App& app, const std::string& name, const std::string& help, ExperimentArgs& a) {
  CLI::App* c = app.add_subcommand(name, help);
  c->add_option("--task", a.task, "listops, text, retrieval, image or pathfinder")->required();
  c->add_flag("--small", a.s.small,
              "the CPU scale: the recipe's depth, optimiser and techniques, narrower, on generated data, fewer "
              "steps (about 30 minutes on two cores for the default list; the output states the scale)");
  c->add_option("--data", a.s.data, "full recipe: the task's data folder (as lra-<task> --data)");
  c->add_flag("--generate", a.s.generate, "full recipe on the task's offline stand-in data (lra-<task> --generate)");
  c->add_option("--device", a.s.device, "auto, cpu or cuda, for every run")->capture_default_str();
  c->add_option("--seeds", a.s.seeds, "runs per variant (seeds 1..N); the table shows their mean")
      ->capture_default_str();
  c->add_option("--gen-count", a.s.gen_count,
                "Pathfinder with --small or --generate: images per difficulty, drawn once into OUT/data for every run")
      ->capture_default_str();
  c->add_option("--threads", a.s.threads, "OMP_NUM_THREADS of every run (0: inherited)")->capture_default_str();
  c->add_option("--timeout", a.s.timeout_s, "seconds per run before it is stopped and marked (0: none)")
      ->capture_default_str();
  c->add_flag("--fresh", a.s.fresh, "start every run again instead of reusing the finished ones in OUT/runs");
  c->add_flag("--quiet", a.quiet, "do not copy the runs' output to stdout (it is in OUT/runs/<run>.log)");
  c->add_option("--out", a.out, "output folder (default runs/probe-" + name + "-<task>)");
  c->add_flag("--no-plot", a.no_plot, "write the JSON and the table only");
  c->add_option("args", a.s.extra,
                "after --: further lra-<task> arguments for every run (e.g. -- --set lr=3e-4 --gen-train 5000)");
  return c;
}

int run_experiment(const std::string& name, ExperimentArgs& a, int argc, char** argv) {
  const probe::Experiment e = name == "locality" ? probe::locality_experiment(a.task, a.list)
                                                 : probe::positional_experiment(a.task, a.list);
  a.s.out = a.out.empty() ? str("runs/probe-", name, "-", a.task) : a.out;
  a.s.echo = !a.quiet;
  a.s.source_dir = LRA_SOURCE_DIR;
  std::string command = "lra-probe";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  const auto result = probe::run_experiment(e, a.s, command);
  std::printf("\n%s", probe::experiment_markdown(result).c_str());
  const std::string json = a.s.out + "/" + name + ".json";
  std::printf("wrote %s and %s/%s.md\n", json.c_str(), a.s.out.c_str(), name.c_str());
  if (!a.no_plot) {
    const std::string png = a.s.out + "/" + name + ".png";
    if (train::draw_plot("tools/probe/plot_experiment.py", json, png)) std::printf("drew %s\n", png.c_str());
  }
  const int failed = result.value("failed_runs", 0);
  if (failed > 0)
    std::fprintf(stderr, "lra-probe: %d run(s) did not finish (see the table and OUT/runs/*.log)\n", failed);
  return failed > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lra-probe: see what each mixer does, computed from the running code (docs/probes.md)."};
  app.require_subcommand(1);

  PatternArgs pa;
  CLI::App* pat = app.add_subcommand(
      "pattern",
      "the token-mixing map M[i][j] = mean |d(sum_c y[i,c]) / dx[j,:]| of one mixer layer (engine autograd), "
      "as DIR/pattern-<model>.json and a log-scale heat map DIR/pattern-<model>.png");
  std::string names;
  for (const auto& e : models::mixers()) names += (names.empty() ? "" : ", ") + e.name;
  pat->add_option("--model", pa.s.model, "registered mixer: " + names);
  pat->add_option("--config", pa.config, "TOML file whose model, width and [mixer] table are used (a configs/ file)");
  pat->add_option("--mixer", pa.mixer, "a mixer setting key=value (repeatable)");
  pat->add_option("--length", pa.s.length, "L, the sequence length probed")->capture_default_str();
  pat->add_option("--max-len", pa.s.max_len, "L the mixer is built for (0: --length; a checkpoint's max_len)")
      ->capture_default_str();
  pat->add_option("--width", pa.s.width, "D, the model width")->capture_default_str();
  pat->add_option("--inputs", pa.s.inputs, "random N(0, 1) inputs averaged over")->capture_default_str();
  pat->add_option("--seed", pa.s.seed, "inputs from this seed, random weights from seed + 1")->capture_default_str();
  pat->add_option("--checkpoint", pa.s.checkpoint, "an lra-<task> checkpoint: the mixer's weights come from it");
  pat->add_option("--layer", pa.s.layer, "the block whose mixer is probed (blocks.<layer>.mixer)")
      ->capture_default_str();
  pat->add_option("--out", pa.out, "output folder")->required();
  pat->add_flag("--no-plot", pa.no_plot, "write the JSON only");

  std::string k_checkpoint, k_out, k_data;
  bool k_no_plot = false;
  CLI::App* ker = app.add_subcommand(
      "kernels",
      "the convolution kernels K(l) of every layer of a checkpoint (convolutional and state-space mixers), with "
      "their fitted exponential decay rate and total variation, as DIR/kernels.json and DIR/kernels.png");
  ker->add_option("--checkpoint", k_checkpoint, "a checkpoint written by lra-<task> (best.safetensors, last.safetensors)")
      ->required();
  ker->add_option("--out", k_out, "output folder")->required();
  ker->add_option("--data", k_data,
                  "the task's data folder, as the run had it (default: regenerate the run's --generate data into the "
                  "checkpoint's folder; the data fixes vocabulary, classes and length)");
  ker->add_flag("--no-plot", k_no_plot, "write the JSON only");

  probe::ReceptiveFieldSettings rf;
  std::string rf_out;
  bool rf_no_plot = false;
  CLI::App* rfc = app.add_subcommand(
      "receptive-field",
      "how much a checkpoint's prediction depends on each input position: the mean over real examples of "
      "|d logit_pred / d embedding_s| (L1 over channels) against s, for image tasks also as a side x side map, "
      "as DIR/receptive_field.json and DIR/receptive_field.png (pair tasks: the first document)");
  rfc->add_option("--checkpoint", rf.checkpoint, "a checkpoint written by lra-<task> (best.safetensors, last.safetensors)")
      ->required();
  rfc->add_option("--task", rf.task, "the task the checkpoint was trained on (listops, text, retrieval, image, pathfinder)")
      ->required();
  rfc->add_option("--data", rf.data_dir,
                  "the task's data folder, as the run had it (default: regenerate the run's --generate data into the "
                  "checkpoint's folder)");
  rfc->add_option("--split", rf.split, "the split whose examples are probed")->capture_default_str();
  rfc->add_option("--batches", rf.batches, "batches of the run's batch size (seeded shuffled order)")
      ->capture_default_str();
  rfc->add_option("--out", rf_out, "output folder")->required();
  rfc->add_flag("--no-plot", rf_no_plot, "write the JSON only");

  ExperimentArgs la;
  la.list = "5,7,11,21,31,61";
  CLI::App* loc = add_experiment(
      app, "locality",
      "the locality-bias paper's Table 1: the residual-convolution probe (configs/<task>/residual_conv.toml) trained "
      "at each kernel size, test accuracy against K beside the paper's row, as OUT/locality.{json,md,png}",
      la);
  loc->add_option("--kernels", la.list, "odd kernel sizes, comma separated")->capture_default_str();

  ExperimentArgs pa2;
  pa2.list = "rotary,learned,sinusoidal,none";
  CLI::App* pos = add_experiment(
      app, "positional",
      "the locality-bias paper's Table 4: the rotary Transformer (configs/<task>/rotary_transformer.toml) against "
      "summed learned or sinusoidal encodings and none, same recipe otherwise, as OUT/positional.{json,md,png}",
      pa2);
  pos->add_option("--variants", pa2.list,
                  "comma list of rotary, learned, sinusoidal, none, rotary_plain (rotary without the paper's "
                  "techniques: augmentation, denoising, the three Pathfinder sets)")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (pat->parsed()) return run_pattern(pa, *pat);
    if (ker->parsed()) {
      probe::run_kernels_probe(k_checkpoint, k_out, k_data, !k_no_plot);
      return 0;
    }
    if (loc->parsed() || pos->parsed()) {
      lra::tools::kill_child_on_interrupt();
      return loc->parsed() ? run_experiment("locality", la, argc, argv) : run_experiment("positional", pa2, argc, argv);
    }
    if (rfc->parsed()) {
      probe::run_receptive_field_probe(rf, rf_out, !rf_no_plot);
      return 0;
    }
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lra-probe: error: %s\n", e.what());
    return 1;
  }
}
