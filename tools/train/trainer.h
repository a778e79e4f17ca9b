// The one training loop behind lra-listops, lra-text, lra-retrieval, lra-image and lra-pathfinder.
//
// A main names its task (tasks/registry.h) and calls run_main(); everything else is shared:
//
//   settings.h  every setting (flags, --config TOML, --set), the resolved config.toml, the optimizer
//   run_log.h   metrics.jsonl and curves.png
//   loop.cpp    the loop: setup, resume, step, evaluate, finish
//   objective.h the loss of one step: classification, plus optional masked-token denoising
//   evaluate.h  evaluation on a split, --eval CHECKPOINT and --predict FILE
//   main.cpp    the command line
//
//   loop      AdamW with parameter groups ("ssm": its own lr, no weight decay; by default no decay on
//             biases and norms either, see decay_all and decay_embeddings), gradient clipping, a schedule
//             (engine/schedule.h spec string) times an optional ReduceLROnPlateau factor driven by the
//             validation accuracy (setting plateau), optional masked-token denoising (objective.h: both
//             documents of a retrieval pair; denoise_mode separate | single_pass, denoise_targets corrupted |
//             all), evaluation on the validation split (clean input) every eval_every steps.
//   run dir   config.toml (the resolved settings, readable again with --config), metrics.jsonl,
//             last.safetensors, best.safetensors (best validation accuracy; both hold config.toml's text and
//             the task's name, so --eval can rebuild the model), curves.png.
//   stopping  Ctrl-C (SIGINT) or --time-limit: the last checkpoint is saved and the run ends cleanly
//             (a time limit still evaluates both checkpoints on the test split); a NaN/Inf loss stops the
//             run naming the step, the learning rate and the checkpoint to go back to.
//   resume    --resume loads RUN_DIR/last.safetensors (model, optimizer, step, the plateau state) and
//             replays the data stream up to that step. Dropout and denoising draw from generators keyed by
//             (seed, step), so a resumed run computes the same losses as an uninterrupted one.
//   parallel  under mpirun / srun (engine/dist.h, docs/distributed.md) each rank trains on its slice of every
//             global batch (--batch is global); rank 0's initialisation is broadcast, gradients are summed over
//             ranks after every backward (each rank's loss weighted by its share of the batch), evaluation
//             counts are summed, rank 0 alone writes the run directory, --resume goes through rank 0 (any
//             world size), and a dead, hung or failing rank ends the job naming it (dist_timeout).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tasks/common/dataset.h"
#include "tasks/registry.h"
#include "tools/train/evaluate.h"
#include "tools/train/settings.h"

namespace lra::train {

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
TrainResult train(const tasks::TaskDescriptor& task, const TrainConfig& config, const tasks::Dataset& data);

// The whole binary: flags, data, train() or --eval, exit code (0 ok, 1 error, 2 bad flags, 130 interrupted).
int run_main(const tasks::TaskDescriptor& task, int argc, char** argv);

}  // namespace lra::train
