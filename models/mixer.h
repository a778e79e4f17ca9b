// The contract between the shared LRA backbone and the sequence mixers, and the model registry.
//
// A mixer maps x [B, L, D] to [B, L, D]; the backbone wraps it in a pre-norm (or post-norm) residual
// block with an FFN. Each LRA model is one registered mixer: `--model NAME` builds the backbone around
// it, and `--list-models` prints every entry with its mechanism, complexity and settings.
//
// Mixer settings are typed and declared once. Each mixer has an options struct whose visit() names every
// key it reads, with its type, default and help:
//
//   struct S4DOptions {
//     int ssm_n = 64;
//     std::string init = "lin";
//     bool bidirectional = false;
//     void visit(MixerOptions& o) {
//       o.integer("ssm_n", ssm_n, "state size N (even)");
//       o.choice("init", init, {"lin", "inv"}, "A initialisation: S4D-Lin or S4D-Inv");
//       o.flag("bidirectional", bidirectional, "a second, anti-causal kernel");
//     }
//   };
//   LRA_REGISTER_MIXER(s4d, S4DOptions, "s4d", "what it computes", "O(...)",
//                      [](const MixerConfig& c, const S4DOptions& o, Generator& g) { return ...; });
//
// The same visit() describes the keys (for --list-models and the key list of an error) and reads them
// from MixerConfig::options: a value that does not parse is an error naming the mixer, the key and what
// it takes ("mixer s4d: init must be one of lin, inv, got 'legs'"), and a key no visit() names is an
// error listing the mixer's keys. Ranges that depend on other values (N even, qkv_dim a multiple of
// heads) are checked by the mixer's constructor.
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

// What the backbone tells a mixer; everything else is the mixer's own options.
struct MixerConfig {
  int width = 128;       // D
  int max_len = 1024;    // L the model is built for (cls row included)
  double dropout = 0.1;  // the model's dropout rate, for a mixer's internal dropout (S4D after its GELU)
  int layer = 0;         // the block's index from 0 (LRA seeds per-layer fixed randomness with it: BigBird)
  std::map<std::string, std::string> options;  // the mixer's settings as text (ModelConfig::mixer)
};

// One declared mixer key, for --list-models and error messages.
struct OptionInfo {
  std::string key, type, default_value, help;  // type: INT, FLOAT, BOOL or {a|b}
};

// Reads (or only describes) a mixer's options; see the header comment.
class MixerOptions {
 public:
  // Describes: records every key with its current (default) value and reads nothing.
  explicit MixerOptions(std::string mixer);
  // Reads `values` into the fields as visit() names them.
  MixerOptions(std::string mixer, const std::map<std::string, std::string>& values);

  void integer(const char* key, int& field, const char* help);
  void integer(const char* key, int64_t& field, const char* help);
  void number(const char* key, double& field, const char* help);
  void flag(const char* key, bool& field, const char* help);
  void choice(const char* key, std::string& field, const std::vector<std::string>& allowed, const char* help);

  // After visit(): throws when `values` holds a key visit() did not name.
  void finish() const;
  const std::vector<OptionInfo>& declared() const { return declared_; }

 private:
  std::string what(const char* key) const;  // "mixer s4d: ssm_n", for errors
  const std::string* value(const char* key, const std::string& type, const std::string& current, const char* help);

  std::string mixer_;
  const std::map<std::string, std::string>* values_ = nullptr;
  std::vector<OptionInfo> declared_;
};

// One materialised convolution kernel of a mixer, for the kernels probe (tools/probe/kernels.h).
// taps [rows, n] float32 on the CPU: column j is the weight the mixer applies to the input at distance
// first_lag + j from the output position, before it (causal: input t − first_lag − j feeds output t) or
// after it (anti-causal: input t + first_lag + j). Rows are the mixer's channels (or, for a dense
// convolution, its input·output channel pairs).
struct MixerKernel {
  std::string name;       // "causal", "anti-causal", "ema causal", ...
  bool anti = false;      // the taps look ahead (anti-causal)
  int64_t first_lag = 0;  // distance of column 0 (S4's anti-causal kernel starts at lag 1, MEGA's at 0)
  Tensor taps;            // [rows, n]
};

class Mixer : public nn::Module {
 public:
  // x [B, L, D]; key_mask [B, L] int32 (1 = real token) or undefined; gen supplies dropout masks.
  virtual Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) = 0;

  // A mixer that owns its residual connection (MEGA's gated residual residual + u⊙(h − residual), with
  // the block's un-normalised input as `residual`) returns true here; the block then replaces its
  // `x + Drop(mixer(Norm(x)))` (post-norm: Norm(x + Drop(mixer(x)))) by forward_residual(x, Norm(x))
  // (post-norm: Norm(forward_residual(x, x))) and applies no dropout of its own. forward() stays the
  // branch alone, forward_residual(x, x) − x, for the mixer tests.
  virtual bool owns_residual() const { return false; }
  virtual Tensor forward_residual(const Tensor& residual, const Tensor& x, const Tensor& key_mask, Generator& gen) {
    (void)residual, (void)x, (void)key_mask, (void)gen;
    throw Error("mixer: forward_residual called on a mixer that does not own its residual");
  }

  // The long-convolution kernels this mixer applies to a sequence of length L (the one forward(x) with
  // x.dim(1) = L convolves with), for the kernels probe. Empty (the default): the mixer applies no
  // input-independent convolution kernel (attention, low-rank and kernel attention, gMLP, and the
  // multi-input multi-output recurrences LRU and S5, whose impulse response is an H×H matrix per lag).
  // An implementation builds the taps with the code its forward uses (never a second formula), under
  // autograd::NoGrad, and returns them as float32 on the CPU. Implemented by s4d and s4 (the SSM kernel,
  // and the anti-causal one when bidirectional), sgconv (the normalised multi-scale kernel),
  // residual_conv (the full-length depthwise kernel, or the dense filter as input·output channel pairs)
  // and mega (the EMA kernel).
  virtual std::vector<MixerKernel> materialized_kernels(int64_t L) {
    (void)L;
    return {};
  }
};

// A MixerKernel of `taps` (any dtype and device): cast to float32 and copied to the CPU.
MixerKernel mixer_kernel(std::string name, bool anti, int64_t first_lag, const Tensor& taps);

using MixerFactory = std::function<std::shared_ptr<Mixer>(const MixerConfig& config, Generator& init)>;

struct MixerEntry {
  std::string name;                  // "transformer", "rotary_transformer", "las", "s4d", ...
  std::string mechanism;             // one line: what it computes
  std::string complexity;            // "O(L^2 D)", "O(L log L · D)", ...
  std::vector<OptionInfo> options;   // every key its options struct declares, with defaults
  MixerFactory make;                 // reads the options (unknown or malformed keys are errors), builds
};

int register_mixer(MixerEntry entry);
const std::vector<MixerEntry>& mixers();
// The entry named `name`, or an lra::Error listing the registered names.
const MixerEntry& find_mixer(const std::string& name);

// The options struct of mixer `name` read from `values`, with the checks described above.
template <class Options>
Options read_options(const std::string& name, const std::map<std::string, std::string>& values) {
  Options o;
  MixerOptions reader(name, values);
  o.visit(reader);
  reader.finish();
  return o;
}

template <class Options, class Build>
int register_mixer_with(std::string name, std::string mechanism, std::string complexity, Build build) {
  Options defaults;
  MixerOptions describe(name);
  defaults.visit(describe);
  MixerEntry e{name, std::move(mechanism), std::move(complexity), describe.declared(), nullptr};
  e.make = [name, build](const MixerConfig& config, Generator& init) -> std::shared_ptr<Mixer> {
    return build(config, read_options<Options>(name, config.options), init);
  };
  return register_mixer(std::move(e));
}

}  // namespace lra::models

// Registers a mixer from a static initialiser in its .cpp: LRA_REGISTER_MIXER(ident, Options, "name",
// "mechanism", "complexity", build) with build(const MixerConfig&, const Options&, Generator&).
#define LRA_REGISTER_MIXER(ident, Options, ...) \
  static const int lra_mixer_registered_##ident = ::lra::models::register_mixer_with<Options>(__VA_ARGS__)
