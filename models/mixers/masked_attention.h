// Softmax attention under a fixed structural mask, with the LRA code's projections: the layer shared by
// the sparse_transformer and longformer mixers (their files hold the structure, the options and the
// reference citations). Everything runs on ops::attention, whose structural options (a token band,
// the Sparse Transformer fixed pattern, causal, ...) decide per (query, key) pair without any L×L
// tensor.
//
// x [B, L, D], attention width Q (qkv_dim, default D), H heads of d = Q/H:
//   q = x·W_qᵀ, k = x·W_kᵀ, v = x·W_vᵀ       W_q, W_k, W_v [Q, D] ("query", "key", "value")
//   out = attention(q, k, v; structure, key mask) [B, H, L, d] → [B, L, Q] → ·W_oᵀ   W_o [D, Q] ("out")
// As LRA's attention modules build them: separate DenseGeneral(features = (H, d)) layers for q, k, v
// with Xavier-uniform kernels over fan_in D, fan_out Q (flax flattens the (H, d) features), an output
// DenseGeneral over (H, d) → D (Xavier over Q, D), and no biases (both LRA blocks pass bias=False, so
// their bias_init normal(1e-6) is never used). Attention dropout (per weight, LRA's
// broadcast_dropout=False) in training only, a fresh mask per call from the forward's Generator.
// Cost: the four projections 8·B·L·D·Q FLOPs, plus the attention op's 4·B·H·L·L_eff·d (attention.h).
#pragma once

#include <memory>
#include <string>

#include "models/layers.h"
#include "models/mixer.h"
#include "ops/attention/attention.h"

namespace lra::models {

class MaskedAttention : public Mixer {
 public:
  // `structure` holds only structural options (no dropout, scale or α); `mixer` names the mixer in errors.
  MaskedAttention(const MixerConfig& c, int heads, int qkv_dim, double attention_dropout,
                  const ops::AttentionOptions& structure, std::string mixer, Generator& init);
  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override;

 private:
  int64_t H_, D_, Q_, max_len_;  // heads, model width, attention width, longest L
  double dropout_;
  ops::AttentionOptions structure_;
  std::string mixer_;
  std::shared_ptr<Linear> query_, key_, value_, out_;
};

// ops::attention for any head dim d: the CUDA kernels take 32, 64 and 128, and the LRA image and
// pathfinder configs use 4 to 16. Zero columns change no score q·k and give zero output columns, so
// on CUDA such a d is zero-padded to the next kernel size and the output sliced back, with the scale
// kept at 1/sqrt(d) of the true d. The CPU reference takes any d as it is. The attention mixers of
// attention.cpp call it too.
Tensor attention_any_head_dim(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                              ops::AttentionOptions o);

}  // namespace lra::models
