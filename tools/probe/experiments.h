// The locality-bias paper's two experiments (Miralles-González et al. 2025; our notes:
// ../shared/reference/locality-bias-paper.md), one command each, by training the task binaries:
//
//   locality    the residual-convolution probe (configs/<task>/residual_conv.toml, the paper's Table 7
//               recipe) trained once per kernel size K (mixer.kernel_size): accuracy against K, beside the
//               paper's Table 1 row for the task. With depth n the probe sees n·(K−1)/2 positions each side.
//   positional  the rotary Transformer (configs/<task>/rotary_transformer.toml, Table 5) against the same
//               model with summed learned or sinusoidal encodings or none (mixer.rotary = none), and, on
//               request, rotary without the paper's techniques: Table 4.
//
// Every variant is one lra-<task> process (run directory OUT/runs/<variant>, -seed<s> for seeds 2..), so a run that
// fails or times out is marked and the others go on, and the command can be run again: a finished run is
// reused (its metrics.jsonl has the test records), an interrupted one continues with --resume, provided it
// was started with the same arguments (OUT/runs/<run>/probe_args.txt). The accuracy reported is the test
// accuracy of the best-validation checkpoint (the trainer's "best" test record), the last checkpoint's
// beside it.
//
// Scale: with --small each task's recipe keeps its depth, optimiser, schedule and techniques, and scales
// width, data, batch and steps so that the default sweep trains on two CPU cores in about half an hour
// (small_scale() says exactly how; the output states it). Without it the configs' full recipes run, on
// --data (the release) or --generate (the offline stand-in data), typically with --device cuda.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace lra::probe {

struct Variant {
  std::string name;               // run name: "K5", "learned"
  std::string label;              // table / plot label: "K = 5", "summed learned"
  double x = NAN;                 // the kernel size (locality); NaN: categorical
  std::vector<std::string> sets;  // key=value for the run's --set
  double paper = NAN;             // the paper's test accuracy in %, NaN where it has none
};

struct Experiment {
  std::string name;    // locality | positional
  std::string task;    // listops | text | retrieval | image | pathfinder
  std::string config;  // path of the recipe, relative to the source tree
  std::string x_label;
  std::string paper_source;
  std::vector<Variant> variants;
};

// The tasks both experiments run on (the paper's five; Path-X is not in its tables).
const std::vector<std::string>& experiment_tasks();

// The locality sweep over `kernels` ("5,7,11,21,31,61"): odd, positive, distinct; errors name --kernels.
Experiment locality_experiment(const std::string& task, const std::string& kernels);
// The positional ablation over `variants` (a comma list of rotary, learned, sinusoidal, none, rotary_plain).
Experiment positional_experiment(const std::string& task, const std::string& variants);

// What --small changes: extra arguments for lra-<task> (data generation sizes, --set of width, batch,
// steps, evaluation period) and a sentence that says so.
struct Scale {
  std::vector<std::string> args;
  std::string description;
};
Scale small_scale(const std::string& experiment, const std::string& task);

struct SweepSettings {
  std::string out;                 // OUT: runs/, <experiment>.json, .md, .png
  std::string device = "auto";     // passed to every run
  std::string data;                // the task's data folder (full scale)
  bool generate = false;           // the task's offline stand-in data (full scale)
  bool small = false;
  int seeds = 1;                   // runs per variant, seeds 1..seeds (--seed)
  int threads = 0;                 // OMP_NUM_THREADS of every run (0: inherited)
  int gen_count = 2000;            // generated Pathfinder (--small, --generate): images per difficulty, drawn
                                   // once into OUT/data for every run
  double timeout_s = 0;            // per run (0: none)
  bool fresh = false;              // discard earlier runs in OUT/runs instead of reusing them
  bool echo = true;                // copy every run's output to stdout as it arrives
  std::vector<std::string> extra;  // further lra-<task> arguments, appended to every run
  std::string bin_dir;             // where lra-<task> is ("": beside this executable)
  std::string source_dir;          // the source tree (configs/)
};

// One run's outcome, read from its metrics.jsonl.
struct RunResult {
  std::string status;  // done | reused | failed | timeout
  double test_best = NAN, test_last = NAN, val_best = NAN;  // fractions
  long long steps = 0;
  double wall_s = 0;
  std::string error;
};
// Reads a finished run's test records; status "failed" with the reason when they are missing.
RunResult read_run(const std::string& run_dir);

// Trains every variant (and seed), writes OUT/<experiment>.json and OUT/<experiment>.md, and returns the
// JSON. Failed runs are recorded, not thrown; errors in the settings are thrown before anything runs.
nlohmann::json run_experiment(const Experiment& e, const SweepSettings& s, const std::string& command_line);

// The markdown table of a result JSON: ours (mean over seeds, best-validation checkpoint; last checkpoint),
// the paper's number, the wall time.
std::string experiment_markdown(const nlohmann::json& result);

}  // namespace lra::probe
