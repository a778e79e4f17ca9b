// lra-probe pattern: the token-mixing map of one mixer layer, computed by the engine's own autograd.
//
//   M[i][j] = mean over the D input channels c' and over `inputs` random inputs x ~ N(0, 1) [L, D] of
//             | ∂(Σ_c y[i, c]) / ∂x[j, c'] |,        y = mixer(x) [L, D] in eval mode (no dropout)
//
// One mechanism for every registered mixer: nothing here knows which mixer it runs. Output positions go
// through the batch dimension, one per batch row: the rows are copies of the same x, the upstream
// gradient of row b is 1 on output position i_b (every channel) and 0 elsewhere, so row b of x's gradient
// is exactly ∂(Σ_c y[i_b, c])/∂x (a mixer never mixes batch rows), and a chunk of `rows_per_backward`
// positions costs one forward and one backward. Exact, not an estimate: each M row is the Jacobian row
// summed over output channels (signs cancel there: "no influence" means the summed row is zero, which for a
// random x and random weights happens only where the mixer has no path from j to i).
//
// Weights: the mixer's random initialisation from Generator(seed), or, with `checkpoint`, the mixer of
// block `layer` of an lra-<task> checkpoint: every parameter and buffer "blocks.<layer>.mixer.<name>" of
// the file is copied into the freshly built mixer (shapes checked, every problem listed). The mixer is
// built as the backbone builds it (models/backbone: MixerConfig{width, max_len, dropout, layer, options}),
// so BigBird's per-layer random blocks are those of that layer.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lra::probe {

struct PatternSettings {
  std::string model;                          // a registered mixer (models/mixer.h)
  std::map<std::string, std::string> mixer;   // the mixer's options, key -> text
  int length = 256;                           // L probed
  int max_len = 0;                            // L the mixer is built for (0: length); a checkpoint's L
  int width = 64;                             // D
  int inputs = 4;                             // random inputs averaged over
  uint64_t seed = 1;                          // inputs from Generator(seed), weights from Generator(seed + 1)
  std::string checkpoint;                     // "" : random init
  int layer = 0;                              // the block index (checkpoint prefix; BigBird's seed)
  int rows_per_backward = 32;                 // output positions per forward/backward (batch rows)
};

struct PatternMap {
  PatternSettings settings;
  int64_t L = 0;
  std::vector<double> map;  // row-major [L, L]: map[i * L + j] = M[i][j] (row i: output, column j: input)
  std::string weights;      // "random init (seed 2)" or "checkpoint FILE, blocks.0.mixer"
  double at(int64_t i, int64_t j) const { return map[size_t(i * L + j)]; }
  double max() const;
};

// The map of `s` (see the header comment). Throws lra::Error naming the setting or the checkpoint entry.
PatternMap token_mixing_map(const PatternSettings& s);

// Reads `model`, `width` and the [mixer] table of a TOML document (a configs/<task>/<model>.toml or a
// run's config.toml; every other key is ignored) into `s`; `source` names it in errors.
void apply_config_toml(PatternSettings& s, const std::string& text, const std::string& source);
// The run configuration stored in a checkpoint's metadata ("" when there is none).
std::string checkpoint_config(const std::string& path);

// {"model", "length", "settings": {...}, "weights", "map": [[...], ...]} as text.
std::string pattern_json(const PatternMap& m);

}  // namespace lra::probe
