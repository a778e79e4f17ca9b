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
//
// Mixer keys are declared: each registry entry lists the `extra` keys its mixer reads (MixerEntry::keys),
// and building a mixer through the registry (find_mixer(name).make) first rejects any other key, naming
// the mixer and its keys, so a typo such as "kernal_size=7" is an error instead of a silently default
// kernel. The same build makes get() and get_string() refuse a key the entry does not declare, so a key
// a mixer reads but forgot to declare fails the first time the mixer is built, not in a user's run.
struct MixerConfig {
  int width = 128;        // D
  int heads = 4;          // attention heads (H)
  int max_len = 1024;     // L the model is built for
  bool causal = false;
  double dropout = 0.1;            // the model's dropout, for a mixer's internal dropout (S4D after GELU)
  double attention_dropout = 0.1;  // dropout on attention probabilities (attention mixers)
  bool attention_bias = false;     // attention mixers: biases on the q/k/v and output projections
  std::map<std::string, std::string> extra;

  double get(const std::string& key, double fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

  // Set by the registry's make() to the entry's name and keys; empty when a test builds a config by
  // hand and reads it outside any mixer (then every key may be read).
  std::string mixer;
  std::vector<std::string> declared;
};

class Mixer : public nn::Module {
 public:
  // x [B, L, D]; key_mask [B, L] int32 (1 = real token) or undefined; gen supplies dropout masks.
  virtual Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) = 0;
};

using MixerFactory = std::function<std::shared_ptr<Mixer>(const MixerConfig& config, Generator& init)>;

struct MixerEntry {
  std::string name;               // "transformer", "rotary_transformer", "las", "s4d", ...
  std::string mechanism;          // one line: what it computes
  std::string complexity;         // "O(L^2 D)", "O(L log L · D)", ...
  std::vector<std::string> keys;  // every MixerConfig::extra key the mixer reads (see MixerConfig)
  MixerFactory make;              // registered through register_mixer: checks the keys, then builds
};

// Registers a mixer (call from a static initialiser in the mixer's .cpp via LRA_REGISTER_MIXER). The
// stored make() first checks the config's extra keys against `keys` (check_mixer_keys).
int register_mixer(MixerEntry entry);
// Throws lra::Error when `config.extra` holds a key `entry` does not declare, naming the key, the
// mixer and the keys it takes.
void check_mixer_keys(const MixerEntry& entry, const MixerConfig& config);
const std::vector<MixerEntry>& mixers();
// The entry named `name`, or an lra::Error listing the registered names.
const MixerEntry& find_mixer(const std::string& name);

}  // namespace lra::models

#define LRA_REGISTER_MIXER(ident, ...) \
  static const int lra_mixer_registered_##ident = ::lra::models::register_mixer(::lra::models::MixerEntry{__VA_ARGS__})
