// The settings of a training run, each declared once (engine/settings.h) and bound to the field that uses
// it: the model's in models/config.h (TrainConfig::model), the task's data settings in tasks/registry.h
// (TrainConfig::data), and the training loop's here. Every setting is a flag (--width 128), a key of a
// TOML --config file (width = 128) and a --set assignment (--set width=128); the mixer's own settings are
// the [mixer] table of the file, --mixer key=value and --set mixer.key=value, read by the mixer
// (models/mixer.h).
//
// A run's resolved config.toml is real TOML, written by config_toml() and read back by apply_toml(): it
// reloads to the same run.
//
//   model = "s4d"          # model settings and training settings at the top level
//   width = 256
//   prenorm = false
//   lr = 0.01
//   [data]                 # the task's data settings
//   gen_train = 2000
//   [mixer]                # the mixer's settings, typed as the mixer declares them
//   ssm_n = 4
//   bidirectional = true
//
// Keys may be written with dashes or underscores (head-layers = head_layers); an unknown key, a value of
// the wrong type or a bad choice is an error naming the file, the line and the key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/nn.h"
#include "engine/optim.h"
#include "engine/schedule.h"
#include "engine/settings.h"
#include "models/config.h"
#include "tasks/common/denoise.h"
#include "tasks/registry.h"

namespace lra::train {

// Masked-token denoising (tools/train/objective.h): separate = the class logits of the clean batch, the
// reconstruction from a second, corrupted pass; single_pass = both from one pass on the corrupted batch.
enum class DenoiseMode { Separate, SinglePass };

struct TrainConfig {
  models::ModelConfig model;  // the model's settings (models/config.h)
  tasks::DataOptions data;    // the task's data settings (tasks/registry.h)

  // optimisation
  int64_t steps = 0;   // 0: from epochs
  double epochs = 0;   // used when steps == 0
  int64_t batch = 32;
  int max_len = 0;     // 0: the task's length; smaller values truncate the sequences
  double lr = 1e-3;
  double weight_decay = 0.01;
  bool decay_all = false;         // true: biases and norms are decayed too (the LRA code decays everything)
  bool decay_embeddings = true;   // false: embedding tables (ids, cls, learned positions) get no decay
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double clip = 1.0;                // global gradient norm; 0 turns clipping off
  std::string schedule = "cosine";  // parse_schedule spec; lr and total default to the run's
  std::string plateau = "none";     // parse_plateau spec: ReduceLROnPlateau on top of the schedule
  double ssm_lr = 0;       // > 0: the "ssm" group gets this lr and no weight decay; "ssm_decay" this lr
  bool augment = false;    // the task's training augmentation
  double denoise = 0;      // > 0: weight of the masked-token denoising loss (byte tasks)
  double denoise_rate = 0.3;
  DenoiseMode denoise_mode = DenoiseMode::Separate;
  tasks::DenoiseTargets denoise_targets = tasks::DenoiseTargets::Corrupted;  // all: every non-pad position

  // evaluation and logging
  int64_t eval_every = 200;
  int64_t eval_batches = 0;  // 0: the whole validation split
  int64_t test_batches = 0;  // 0: the whole test split
  int64_t log_every = 10;
  int64_t save_every = 0;    // 0: last.safetensors at evaluations and at the end only
  bool plot = true;          // draw curves.png from metrics.jsonl (tools/plot/curves.py, matplotlib)

  // run
  uint64_t seed = 1;
  std::string device = "auto";
  bool tf32 = false;
  std::string out = "";  // run directory ("" : runs/<task>-<model>)

  // data-parallel runs (docs/distributed.md; used only when the launcher starts more than one rank)
  bool sync_bn = true;              // BatchNorm statistics over the global batch
  std::string dist_backend = "auto";  // auto | mpi | nccl
  double dist_timeout = 300;        // seconds a rank waits for the others before ending the job
  double dist_bucket_mb = 25;       // gradient all-reduce bucket (GPU ranks)

  // controls of one invocation, flags only (not settings, not in config.toml)
  bool resume = false;
  double time_limit_s = 0;  // 0: none
  int64_t stop_after = 0;   // > 0: stop as if interrupted after this step (for resume tests)
};

using Setting = settings::Setting<TrainConfig>;

// The settings of a run of `task`: the model's, the loop's and the task's data settings. With no task,
// every data setting of every task (for tools that are not bound to one task).
std::vector<Setting> settings_for(const tasks::TaskDescriptor* task);
const std::vector<Setting>& settings();  // settings_for(nullptr)

// Applies "key=value" (a setting) or "mixer.key=value" (a mixer setting); an error names the key and
// lists the known ones when it is unknown.
void apply_setting(TrainConfig& c, const std::string& assignment, const tasks::TaskDescriptor* task = nullptr);

// The settings as TOML (see the header comment). Mixer settings are typed as the mixer declares them.
std::string config_toml(const TrainConfig& c, const tasks::TaskDescriptor* task = nullptr);
// Applies a TOML document; `source` names it in errors ("configs/listops/s4d.toml:12: ..."). Every key
// applied is added to *applied when given (setting names; mixer keys as "mixer.<key>").
void apply_toml(TrainConfig& c, const std::string& text, const std::string& source,
                const tasks::TaskDescriptor* task = nullptr, std::vector<std::string>* applied = nullptr);
void apply_toml_file(TrainConfig& c, const std::string& path, const tasks::TaskDescriptor* task = nullptr,
                     std::vector<std::string>* applied = nullptr);

// "90", "90s", "5m", "1.5h" -> seconds; an error names the text otherwise.
double parse_duration(const std::string& text);

// The plateau setting: "none" (or "") is off; otherwise "on" (every default) or key=value pairs joined
// by commas, e.g. "factor=0.2,patience=20". Keys: factor (0.1), patience (10 evaluations), threshold
// (1e-4, relative), cooldown (0 evaluations), min_lr (0), metric = acc (validation accuracy, higher is
// better; the default) | loss (validation loss). The defaults are PyTorch's ReduceLROnPlateau. At every
// evaluation the metric is observed; after more than `patience` evaluations without a relative
// improvement the factor multiplies the scale, and the run's rate is schedule(step) times the scale
// (never below min(schedule(step), min_lr)), so "last10" plus a plateau gives the locality-bias paper's
// plateau reductions followed by the decay over the last 10%. Throws lra::Error naming the key.
std::optional<optim::PlateauConfig> parse_plateau(const std::string& spec);

// The run's AdamW over `params` (the model's named parameters, after Module::to()): lr, betas, eps and
// weight decay from `c`; the "ssm" group gets ssm_lr (if set) and no decay; biases and norms are decayed
// only with decay_all; embedding tables (nn::ParamKind::Embedding) only with decay_embeddings.
std::unique_ptr<optim::AdamW> make_optimizer(const TrainConfig& c, std::vector<nn::NamedParameter> params);

}  // namespace lra::train
