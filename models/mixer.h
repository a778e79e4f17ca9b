// The contract between the shared LRA backbone and the sequence mixers, and the model registry.
//
// A mixer maps x [B, L, D] to [B, L, D]; the backbone wraps it in a pre-norm (or post-norm) residual
// block with an FFN. Each LRA model is one registered mixer: `--model NAME` builds the backbone around
// it, and `--list-models` prints every entry with its one-line mechanism and complexity.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace lra::models {

// Everything a mixer may read from the model configuration. Keys not named here live in `extra`
// (e.g. "las_B", "las_P", "chunk", "kernel_size", "ssm_n", "bidirectional"), read with get().
struct MixerConfig {
  int width = 128;        // D
  int heads = 4;          // attention heads (H)
  int max_len = 1024;     // L the model is built for
  bool causal = false;
  double dropout = 0.1;            // the model's dropout, for a mixer's internal dropout (S4D after GELU)
  double attention_dropout = 0.1;  // dropout on attention probabilities (attention mixers)
  std::map<std::string, std::string> extra;

  double get(const std::string& key, double fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
};

class Mixer : public nn::Module {
 public:
  // x [B, L, D]; key_mask [B, L] int32 (1 = real token) or undefined; gen supplies dropout masks.
  virtual Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) = 0;
};

using MixerFactory = std::function<std::shared_ptr<Mixer>(const MixerConfig& config, Generator& init)>;

struct MixerEntry {
  std::string name;         // "transformer", "rotary_transformer", "las", "s4d", ...
  std::string mechanism;    // one line: what it computes
  std::string complexity;   // "O(L^2 D)", "O(L log L · D)", ...
  MixerFactory make;
};

// Registers a mixer (call from a static initialiser in the mixer's .cpp via LRA_REGISTER_MIXER).
int register_mixer(MixerEntry entry);
const std::vector<MixerEntry>& mixers();
// The entry named `name`, or an lra::Error listing the registered names.
const MixerEntry& find_mixer(const std::string& name);

}  // namespace lra::models

#define LRA_REGISTER_MIXER(ident, ...) \
  static const int lra_mixer_registered_##ident = ::lra::models::register_mixer(::lra::models::MixerEntry{__VA_ARGS__})
