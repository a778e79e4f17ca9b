// The one training loop behind lra-listops, lra-text, lra-retrieval, lra-image and lra-pathfinder.
//
// A main describes its task (a TaskSpec: how to load the release from --data, how to make offline data
// for --generate, task-specific flags) and calls run_main(); everything else is shared:
//
//   flags     --model, --config FILE (TOML, read by CLI11), --set key=value, --mixer key=value, --data DIR |
//             --generate, --device, --seed, --steps | --epochs, --out RUN_DIR, --resume, --time-limit, and
//             one flag per setting (--lr, --width, ...; see settings()).
//   loop      AdamW with parameter groups ("ssm": its own lr, no weight decay; by default no decay on
//             biases and norms either, see decay_all and decay_embeddings), gradient clipping, a schedule
//             (engine/schedule.h spec string) times an optional ReduceLROnPlateau factor driven by the
//             validation accuracy (setting plateau), optional masked-token denoising, evaluation on the
//             validation split every eval_every steps.
//   run dir   config.toml (the resolved settings, readable again with --config), config.json,
//             metrics.jsonl (one JSON object per log/eval/test line), last.safetensors, best.safetensors
//             (best validation accuracy), curves.png (loss and accuracy, train and validation).
//   stopping  Ctrl-C (SIGINT) or --time-limit: the last checkpoint is saved and the run ends cleanly
//             (a time limit still evaluates both checkpoints on the test split); a NaN/Inf loss stops the
//             run naming the step, the learning rate and the checkpoint to go back to.
//   resume    --resume loads RUN_DIR/last.safetensors (model, optimizer, step, the plateau state) and
//             replays the data stream up to that step. Dropout and denoising draw from generators keyed by (seed, step),
//             so a resumed run computes the same losses as an uninterrupted one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/nn.h"
#include "engine/optim.h"
#include "engine/schedule.h"
#include "tasks/common/dataset.h"

namespace CLI {
class App;
}

namespace lra::train {

// Every setting of a run except where its data comes from. Settings are also flags (--width 128) and
// --set keys (width=128); names use underscores in both.
struct TrainConfig {
  // model (models/backbone/backbone.h ModelConfig)
  std::string model = "transformer";
  int width = 128, depth = 2, heads = 4, ffn = 256;
  int max_len = 0;  // 0: the task's length; smaller values truncate the sequences
  std::string position = "sinusoidal";
  bool cls_token = false;
  bool prenorm = true;
  bool final_norm = true;  // pre-norm: the norm after the last block
  std::string norm = "layer";
  std::string activation = "gelu";
  double dropout = 0.1, attention_dropout = 0.1;
  bool attention_bias = false;  // q/k/v and output projections with biases (attention mixers)
  bool tied_dropout = false;
  std::string pooling = "mean";
  int mlp_dim = 0;
  int head_layers = 1;  // 0: one Linear classifier; 1: Linear-ReLU-Linear
  std::string interaction = "concat";
  std::string input = "tokens";  // tokens (embedding) | scalars (pixel/255 normalised, image tasks)
  std::map<std::string, std::string> mixer;  // mixer settings (--mixer key=value)

  // optimisation
  int64_t steps = 0;   // 0: from epochs
  double epochs = 0;   // used when steps == 0
  int64_t batch = 32;
  double lr = 1e-3;
  double weight_decay = 0.01;
  bool decay_all = false;         // true: biases and norms are decayed too (the LRA code decays everything)
  bool decay_embeddings = true;   // false: embedding tables (ids, cls, learned positions) get no decay
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double clip = 1.0;       // global gradient norm; 0 turns clipping off
  std::string schedule = "cosine";  // parse_schedule spec; lr and total default to the run's
  std::string plateau = "none";     // parse_plateau spec: ReduceLROnPlateau on top of the schedule
  double ssm_lr = 0;       // > 0: the "ssm" parameter group gets this lr and no weight decay
  bool augment = false;    // the task's training augmentation (registry.h)
  double denoise = 0;      // > 0: weight of the masked-token denoising loss (byte tasks)
  double denoise_rate = 0.3;

  // evaluation and logging
  int64_t eval_every = 200;
  int64_t eval_batches = 0;  // 0: the whole validation split
  int64_t test_batches = 0;  // 0: the whole test split
  int64_t log_every = 10;
  int64_t save_every = 0;    // 0: last.safetensors at evaluations and at the end only

  // run
  uint64_t seed = 1;
  std::string device = "auto";
  bool tf32 = false;
  std::string out = "";      // run directory ("" : runs/<task>-<model>)
  bool resume = false;
  double time_limit_s = 0;   // 0: none
  int64_t stop_after = 0;    // > 0: stop as if interrupted after this step (for resume tests)
};

// One named setting: how to read it from a string and how to print it.
struct Setting {
  std::string name, help;
  std::string type;  // INT, FLOAT, BOOL, TEXT or {a|b|c}, for --help
  std::function<void(TrainConfig&, const std::string&)> set;
  std::function<std::string(const TrainConfig&)> get;
};
const std::vector<Setting>& settings();
// Applies "key=value"; an error names the key and lists the known ones when it is unknown.
void apply_setting(TrainConfig& c, const std::string& assignment);
// The settings as TOML (readable by --config) and as a JSON object.
std::string config_toml(const TrainConfig& c);
std::string config_json(const TrainConfig& c);

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

// What a training main contributes.
struct TaskSpec {
  std::string binary;       // "lra-listops"
  std::string description;  // first lines of --help
  std::string data_help;    // what --data must be
  std::string generate_help;
  // Loads the release from DIR.
  std::function<tasks::Dataset(const std::string& dir)> load;
  // Makes offline data (may write into `scratch`, a folder inside the run directory).
  std::function<tasks::Dataset(const std::string& scratch, uint64_t seed)> generate;
  // Training augmentation, used when the setting augment is on (empty: the task has none).
  std::function<tasks::Augment(const tasks::TaskInfo&)> augment;
  bool pixels = false;      // the ids are pixel values 0..255 (input=scalars is allowed)
  bool denoise_ok = false;  // byte vocabulary: masked-token denoising is allowed
  // Task flags (e.g. --size) and config defaults (e.g. listops' width) applied before parsing.
  std::function<void(CLI::App&)> add_flags;
  std::function<void(TrainConfig&)> defaults;
};

// Where the data comes from.
struct DataSource {
  std::string dir;        // --data
  bool generate = false;  // --generate
};

struct TrainResult {
  int64_t steps = 0;              // last step completed
  bool interrupted = false;       // Ctrl-C or stop_after (checkpoint saved, no test evaluation)
  bool time_limit = false;
  double best_val_acc = -1;
  int64_t best_step = 0;
  double test_acc_last = -1, test_acc_best = -1;
  std::vector<double> losses;     // training loss of every log line (log_every steps)
};

// Trains; throws lra::Error with a clear message for bad settings, missing data and a NaN/Inf loss.
TrainResult train(const TaskSpec& task, const TrainConfig& config, const tasks::Dataset& data);

// The whole binary: flags, data, train(), exit code (0 ok, 1 error, 2 bad flags, 130 interrupted).
int run_main(const TaskSpec& task, int argc, char** argv);

}  // namespace lra::train
