// The kernels probe: the long-convolution kernels K(ℓ) a trained model applies, layer by layer, with the
// two numbers the LaS paper (Zimerman & Wolf) names for a good long-range operator: how fast the kernel
// decays and how smooth it is.
//
//   lra-probe kernels --checkpoint runs/listops-s4d/best.safetensors --out probe/ [--data DIR] [--no-plot]
//
// rebuilds the model from the checkpoint's stored configuration (as lra-<task> --eval does: the task's
// data, from --data DIR or regenerated from the checkpoint's seed and settings, fixes vocabulary, classes
// and length), asks every block's mixer for its kernels at the length the model was built for
// (Mixer::materialized_kernels, models/mixer.h: the taps the mixer's forward convolves with) and writes
// kernels.json and, with matplotlib (tools/probe/plot_kernels.py), kernels.png.
//
// Per layer and direction (causal, anti-causal), over the kernel's rows (channels) r and lags ℓ:
//   quartiles  q25(ℓ), median m(ℓ), q75(ℓ) of |K_r(ℓ)| over r
//   decay      the least-squares line log m(ℓ) ≈ log A − rate·ℓ over the fit range: the lags from the first
//              one up to (not including) the first lag where m(ℓ) < floor·max_ℓ m(ℓ) (floor = 1e-4), so
//              the float rounding floor a decayed kernel reaches is not fitted; rate in 1/positions,
//              half-life ln 2 / rate. Fewer than two points in the range: rate NaN (written as null).
//   smoothness the total variation TV_r = Σ_ℓ |K_r(ℓ+1) − K_r(ℓ)| / Σ_ℓ |K_r(ℓ)|, median over the rows with
//              a nonzero kernel: 0 for a constant kernel, near 2 for one that alternates in sign every tap,
//              about 1/n-ish for a smooth one spread over n taps.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/backbone/backbone.h"
#include "models/mixer.h"
#include "tasks/registry.h"
#include "tools/train/evaluate.h"
#include "tools/train/settings.h"

namespace lra::probe {

// The least-squares fit of log magnitude[i] against lag[i] over the fit range described above.
struct DecayFit {
  double rate = 0;           // −slope; NaN when fewer than 2 points
  double log_amplitude = 0;  // intercept
  int64_t points = 0;        // lags in the fit range
  double last_lag = 0;       // the largest lag fitted
};
constexpr double kDecayFloor = 1e-4;
DecayFit fit_decay(const std::vector<double>& lag, const std::vector<double>& magnitude, double floor = kDecayFloor);

// Σ|k[j+1] − k[j]| / Σ|k[j]| of one row of n taps; NaN for an all-zero row.
double total_variation(const float* k, int64_t n);

// One direction of one layer's kernels, summarised over rows.
struct KernelSummary {
  std::string name;  // MixerKernel::name
  bool anti = false;
  int64_t rows = 0;
  std::vector<double> lag, q25, median, q75;  // per tap
  DecayFit decay;
  double tv = 0;  // median over rows of total_variation
};
KernelSummary summarise_kernel(const models::MixerKernel& k);

struct LayerKernels {
  int layer = 0;
  std::string mixer;  // the registered name (ModelConfig::model)
  std::vector<KernelSummary> kernels;
};

// Every block's kernels at length L (the model's max_len, plus the cls row when it has one). A mixer
// without kernels is an error naming it ("kernels: mixer transformer has no convolution kernel ...").
std::vector<LayerKernels> probe_kernels(const models::LraModel& model);

// The JSON kernels.json holds: {"checkpoint", "model", "length", "decay_floor", "layers": [{"layer",
// "mixer", "kernels": [{"name", "anti", "rows", "lag", "q25", "median", "q75", "decay_rate",
// "half_life", "fit_points", "fit_last_lag", "tv"}]}]}.
std::string kernels_json(const std::vector<LayerKernels>& layers, const std::string& checkpoint,
                         const std::string& model, int64_t length);

// A checkpoint of lra-<task> with what rebuilt it: the task it was trained on, its run configuration, the
// data (which fixed vocabulary, classes and length), the feed that turns batches into the model's input
// (CPU), and the model in eval mode. For probes that run the model on real examples.
struct CheckpointRun {
  const tasks::TaskDescriptor* task = nullptr;
  train::TrainConfig run;
  tasks::Dataset data;
  tasks::TaskInfo info;  // data.info with the run's max_len applied (what the model was built for)
  train::Feed feed;
  std::unique_ptr<models::LraModel> model;
};
// Rebuilt as --eval does, on the CPU; data_dir "" regenerates the run's --generate data.
CheckpointRun load_checkpoint_run(const std::string& checkpoint, const std::string& data_dir);

// The model of a checkpoint of lra-<task>, on the CPU, rebuilt as --eval does; data_dir "" regenerates.
std::unique_ptr<models::LraModel> load_checkpoint_model(const std::string& checkpoint, const std::string& data_dir);

// The command: writes out_dir/kernels.json and (plot) out_dir/kernels.png; prints a line per layer.
void run_kernels_probe(const std::string& checkpoint, const std::string& out_dir, const std::string& data_dir, bool plot);

}  // namespace lra::probe
