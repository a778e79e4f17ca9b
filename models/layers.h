// The layers the backbone and the mixers share: a dense layer with a named initialiser, the norm, the
// feed-forward sub-layer, and the small helpers every mixer needs (padding, input checks). Mixers include
// this header, never the backbone.
//
// Parameter names are the module tree's: a Linear registered as "qkv" owns "qkv.weight" and "qkv.bias".
#pragma once

#include <memory>
#include <string>

#include "engine/nn.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "models/config.h"

namespace lra::models {

// How a dense layer's weight [out, in] and bias [out] start.
enum class LinearInit {
  XavierUniform,  // weight U(±sqrt(6 / (in + out))), bias 0: the LRA (flax) code's Dense layers
  TorchDefault,   // weight and bias U(±1/sqrt(in)): PyTorch's nn.Linear, used by the S4 and gMLP code
};

// A weight or bias tensor of `shape` drawn as PyTorch initialises nn.Linear / nn.Conv1d:
// U(±1/sqrt(fan_in)).
Tensor torch_default_init(const Shape& shape, int64_t fan_in, Generator& gen);

// y = x · Wᵀ + b with W [out, in] (PyTorch layout). `blocks` > 1 says W stacks that many maps of out/blocks
// rows each (a fused q/k/v projection): Xavier then uses fan_out = out/blocks, the bound each map would
// get as a layer of its own (TorchDefault depends on fan_in only, so blocks changes nothing there).
class Linear : public nn::Module {
 public:
  Linear(int in, int out, Generator& init, LinearInit how = LinearInit::XavierUniform, bool bias = true,
         int blocks = 1);
  Tensor forward(const Tensor& x) const;

 private:
  Tensor weight_, bias_;
};

// LayerNorm over the last dim (eps 1e-6, the flax default of the LRA code), or BatchNorm over all leading
// dims (B×L, padding included; eps 1e-5, momentum 0.1 unless given: PyTorch's convention, running = (1 − m)·running
// + m·batch; S5's flax 0.95 is 0.05 here, minimal-LRU's 0.99 is 0.01): batch statistics with the biased variance in
// training, running statistics in eval, the running variance updated with the unbiased batch variance as
// PyTorch's BatchNorm1d does. The running statistics are buffers ("running_mean", "running_var"): moved
// by to() and saved in checkpoints. In a data-parallel run (engine/dist.h) with dist::sync_batch_norm() on, the
// training statistics are those of the global batch (differentiable all-reduces of Σx and Σ(x − mean)²).
// ScaleNorm (MEGA, fairseq/modules/scale_norm.py): x·g/sqrt(mean(x²) + 1e-5) over the last dim, one
// learned scalar g = 1 ("weight" [1]; the eps is SequenceNorm's 1e-5).
class Norm : public nn::Module {
 public:
  Norm(NormKind kind, int width, double momentum = 0.1);
  Tensor forward(const Tensor& x);  // x [..., D]

 private:
  NormKind kind_;
  bool batch_;
  double momentum_;
  Tensor weight_, bias_;
  Tensor running_mean_, running_var_;
};

// FFN = Linear(D→hidden) → act → Drop(act_dropout) → Linear(hidden→D) → Drop (Xavier-uniform weights, zero
// biases); act_dropout < 0 uses the forward's dropout rate for both.
class FeedForward : public nn::Module {
 public:
  FeedForward(int width, int hidden, Activation activation, Generator& init, double act_dropout = -1.0);
  Tensor forward(const Tensor& x, double dropout, bool tied, Generator& gen);

 private:
  Activation activation_;
  double act_dropout_;
  std::shared_ptr<Linear> fc1_, fc2_;
};

// x [B, L, C] with the rows of padded positions zeroed (key_mask [B, L] int32, 1 = real token), cast on
// the mask's own device (no host round trip); x itself when there is no mask.
Tensor zero_padding(const Tensor& x, const Tensor& key_mask);

// A mixer's input check: x is [B, L, width] with L <= max_len; errors name the mixer.
void check_mixer_input(const Tensor& x, int64_t width, int64_t max_len, const char* mixer);

// The attention width Q of a multi-head mixer: its qkv_dim setting, or the model width when qkv_dim is 0.
// Checked here for every such mixer (qkv_dim >= 0; Q a positive multiple of heads); errors name the mixer.
int64_t attention_width(const std::string& mixer, int64_t width, int64_t heads, int64_t qkv_dim);

}  // namespace lra::models
