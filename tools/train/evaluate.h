// Evaluation of a model on a split, shared by the training loop (validation, test) and by --eval, which
// rebuilds a model from a checkpoint and reports on any split:
//
//   lra-listops --eval runs/listops-s4d/best.safetensors --generate --split test --predict preds.jsonl
//
// prints the loss, the accuracy, the accuracy of every class and the confusion matrix, and with --predict
// writes one JSON line per example in split order: {"index", "label", "predicted", "probabilities"}.
// Predictions are the argmax of the logits (the first index on ties, as ops::count_correct counts), so the
// accuracy --eval prints for a checkpoint is the one the training run reported for it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/dist.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "models/backbone/backbone.h"
#include "tasks/common/dataset.h"
#include "tasks/image/image.h"
#include "tools/train/settings.h"

namespace lra::train {

// How batches reach the model: the device, pixel scalars or token ids, one or two sequences.
struct Feed {
  Device device = Device::CPU;
  bool scalars = false;                 // input = scalars: pixel ids -> normalised floats [B, L, 1]
  tasks::image::Normalization norm;     // when scalars
  bool pair = false;                    // two-tower retrieval

  Tensor input(const Tensor& ids) const;
  Tensor logits(models::LraModel& model, const tasks::Batch& b, Generator& gen) const;
};

struct Evaluation {
  int64_t n = 0;
  double loss = 0, acc = 0;
  std::vector<std::vector<int64_t>> confusion;  // [label][predicted]
};

struct EvalOptions {
  int64_t batch = 32;
  int64_t max_batches = 0;  // > 0: a fixed random subset of this many batches (splits are often sorted by label)
  uint64_t seed = 1;        // of that subset
  std::string predict;      // "" or a file for one JSON line per example (only for a whole split, in order)
  // Data-parallel: each rank evaluates its slice of every batch and the counts (loss sum, correct, n,
  // confusion) are summed over ranks, so every rank returns the whole split's evaluation. nullptr: alone.
  dist::Comm* comm = nullptr;
};

// Evaluates `model` (switched to eval mode for the call) on split `split_name` of `data`.
Evaluation evaluate(models::LraModel& model, const Feed& feed, const tasks::Dataset& data,
                    const tasks::TaskInfo& info, const std::string& split_name, const EvalOptions& options);

// The report --eval prints: loss, accuracy, per-class accuracy and the confusion matrix.
std::string format_evaluation(const Evaluation& e, const std::string& title);

// --eval: rebuilds the model from `checkpoint`'s stored configuration and evaluates it on `split` of the
// data from --data DIR or --generate (regenerated from the checkpoint's seed and data settings into the
// checkpoint's folder). `asked` names the settings the user gave (flags, --config, --set; mixer keys as
// "mixer.<key>"), with their values in `c`: a checkpoint of another task, or one whose model settings
// differ from an asked one, is refused with every difference named; asked data and run settings (batch,
// device, text_len) replace the checkpoint's. Returns the process exit code.
int evaluate_checkpoint(const tasks::TaskDescriptor& task, const TrainConfig& c,
                        const std::vector<std::string>& asked, const std::string& checkpoint,
                        const std::string& split, const std::string& predict, const std::string& data_dir,
                        bool generate);

// The run's data for `c` from --data DIR or --generate (the task's offline data, seeded by c.seed).
tasks::Dataset load_data(const tasks::TaskDescriptor& task, const TrainConfig& c, const std::string& data_dir,
                         bool generate, const std::string& scratch);

// The model configuration of a run of `c` on data `info` (vocab, classes, length, heads) and the feed.
models::ModelConfig model_config(const tasks::TaskDescriptor& task, const TrainConfig& c, tasks::TaskInfo* info);
Feed make_feed(const tasks::TaskDescriptor& task, const TrainConfig& c, const tasks::TaskInfo& info, Device device);

}  // namespace lra::train
