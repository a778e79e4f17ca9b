// The receptive-field probe: how strongly a trained model's prediction depends on each input position,
// measured on real examples by the engine's own autograd.
//
//   lra-probe receptive-field --checkpoint runs/listops-s4d/best.safetensors --task listops --out probe/
//                             [--data DIR] [--split val] [--batches 2] [--no-plot]
//
// For each example b of `batches` batches of the split (drawn in a seeded shuffled order, since splits are
// often sorted by label), with e_b = the embedded input [L, D] (LraModel::embed: the token table row or
// the scalar encoder's output, before the cls row and the positions, which do not depend on the input):
//
//   g_b(s) = Σ_c | ∂ logit_{b, ŷ_b} / ∂ e_b[s, c] |          ŷ_b = argmax of the logits (the prediction)
//
//   mean(s)      = (1/N) Σ_b  real_b(s) · g_b(s)             over all N examples (padding counts 0)
//   mean_real(s) = Σ_b real_b(s) · g_b(s) / Σ_b real_b(s)     over the examples whose position s is real
//   coverage(s)  = (1/N) Σ_b real_b(s)
//
// real_b(s) is the mask the model runs with (LraModel::input_mask: padding, and black pixels with
// mask_zero_pixels). Padded positions are not input, so they count 0; how much the prediction still
// depends on the padding embeddings (with mean pooling it does: LRA averages every row) is reported once,
// as padded_mean = the mean of g_b(s) over the padded (b, s). The model is in eval mode (no dropout) and
// examples never mix in a batch, so one backward of Σ_b logit_{b, ŷ_b} gives every example's gradient.
// Pair tasks (retrieval, two towers): the first document is probed; the second goes through unchanged.
// Image tasks (TaskDescriptor::render == Image, square inputs side × side): the curve is also given as a
// 2-D map, map[r·side + c] = mean(s = r·side + c), the row-major order the pixels are flattened in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/backbone/backbone.h"
#include "tasks/common/dataset.h"
#include "tools/train/evaluate.h"

namespace lra::probe {

struct ReceptiveField {
  int64_t L = 0;         // positions (the model's max_len; the cls row is not an input position)
  int64_t examples = 0;  // N
  std::vector<double> mean, mean_real, coverage;  // [L]; mean_real NaN where no example is real
  double padded_mean = 0;                         // mean g over padded (b, s); 0 when there are none
  int64_t side = 0;                               // image tasks: side × side = L; else 0
  std::vector<double> map;                        // image tasks: [side × side] row-major, = mean
};

// The curve over `batches` (collated batches of the model's task; pair batches probe ids/mask, the first
// document). side > 0 also fills the 2-D map (side × side must equal the batches' length). The model's
// parameters keep their requires_grad; their gradients are not touched.
ReceptiveField receptive_field(models::LraModel& model, const train::Feed& feed, const std::vector<tasks::Batch>& batches,
                               int64_t side = 0);

struct ReceptiveFieldSettings {
  std::string checkpoint;  // an lra-<task> checkpoint
  std::string task;        // the task it must have been trained on ("listops", ...): a mismatch is an error
  std::string data_dir;    // "" : regenerate the run's --generate data
  std::string split = "val";
  int batches = 2;         // of the run's batch size
};

struct ReceptiveFieldProbe {
  ReceptiveFieldSettings settings;
  std::string model;  // the registered mixer
  bool pair = false;  // the first document was probed
  ReceptiveField field;
};

// Loads the checkpoint (as --eval does), checks the task, draws the batches and computes the field.
ReceptiveFieldProbe probe_receptive_field(const ReceptiveFieldSettings& s);

// receptive_field.json: {"checkpoint", "task", "model", "split", "examples", "length", "pair_first_document",
// "position", "mean", "mean_real", "coverage", "padded_mean", "side", "map": [[...]] (image tasks only)};
// non-finite numbers are null.
std::string receptive_field_json(const ReceptiveFieldProbe& p);

// The command: writes out_dir/receptive_field.json and (plot) out_dir/receptive_field.png.
void run_receptive_field_probe(const ReceptiveFieldSettings& s, const std::string& out_dir, bool plot);

}  // namespace lra::probe
