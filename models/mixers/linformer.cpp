// linformer: softmax attention over keys and values projected along the length to k rows (Wang et al.
// 2020, "Linformer: Self-Attention with Linear Complexity"), as the LRA code builds it:
// google-research/long-range-arena, lra_benchmarks/models/linformer/linformer_attention.py (the
// attention) and linformer.py (the block: bias=False, Xavier-uniform kernels, max_len with the CLS row
// counted, no low_rank_features passed, so k = 16). Our notes: lra-benchmark.md §4.1 item 5.
//
//   x [B, L, D], attention width Q (qkv_dim), H heads of d = Q/H channels, E [max_len, k]:
//   q, k, v = x·W_qᵀ, x·W_kᵀ, x·W_vᵀ                 three Linear(D → Q), Xavier(D, Q), no bias (LRA)
//   K' = E[:L]ᵀ · k,  V' = E[:L]ᵀ · v                 [B, k, Q]: the length projected to k rows; ONE E
//                                                    per layer, shared by K and V and by every head
//   out_h = softmax(q_h K'_hᵀ / √d) · V'_h            [B, H, L, k] weights, dropout on them (training)
//   y = concat_h(out_h) · W_oᵀ                        Linear(Q → D), Xavier(Q, D), no bias
//
// E ("proj") is [max_len, k] with flax's Xavier-uniform fans on the 2-D shape, U(±√(6/(max_len + k))),
// and a length-L input uses its first L rows (LRA slices kernel[:L]). k may exceed L (then K' has more
// rows than k had; nothing breaks). Padding: LRA applies no mask at all (its attention receives the
// padding mask and ignores it: "Does Linformer care about masks?"), so padded positions leak into K' and
// V' through E. We reproduce that; mask_padding = true zeroes the padded rows of k and v before the
// projection instead (our option, not LRA's). LRA also ignores causal_mask here; so do we (no option).
//
// Computed with matmul + softmax + dropout (each with its CPU and CUDA kernels and backward); nothing
// L×L: K'ᵀ per head is matmul(k, E[:L], trans_a) [B, Q, k] viewed [B, H, d, k], the scores are
// [B, H, L, k], and out = P · V' via matmul(P, V'ᵀ, trans_b).
// Cost in L: time O(B·L·(D·Q + k·Q)), memory O(B·H·L·k) (see docs/models/linformer.md).
#include <cmath>
#include <string>

#include "models/layers.h"
#include "models/mixer.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/shape/shape_ops.h"
#include "ops/softmax/softmax.h"

namespace lra::models {
namespace {

struct LinformerOptions {
  int heads = 4;
  int qkv_dim = 0;  // 0: the model width
  double attention_dropout = 0.1;
  int k = 16;  // LRA's low_rank_features default; no LRA config changes it (text's 32 is never forwarded)
  bool mask_padding = false;

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.number("attention_dropout", attention_dropout, "dropout on the [L, k] attention weights (training only)");
    o.integer("k", k, "rows of the length projection E [max_len, k] (LRA's low_rank_features)");
    o.flag("mask_padding", mask_padding, "zero padded keys and values before the projection (LRA: no mask)");
  }
};

class LinformerMixer : public Mixer {
 public:
  LinformerMixer(const MixerConfig& c, const LinformerOptions& o, Generator& init)
      : H_(o.heads), D_(c.width), Q_(attention_width("linformer", c.width, o.heads, o.qkv_dim)),
        K_(o.k), max_len_(c.max_len),
        dropout_(o.attention_dropout), mask_padding_(o.mask_padding) {
    LRA_CHECK(o.k >= 1, "linformer: k = ", o.k, " must be a positive integer");
    LRA_CHECK(o.attention_dropout >= 0 && o.attention_dropout < 1, "linformer: attention_dropout ",
              o.attention_dropout, " is not in [0, 1)");
    auto linear = [&](const char* name, int in, int out) {
      return register_module(name, std::make_shared<Linear>(in, out, init, LinearInit::XavierUniform, false));
    };
    query_ = linear("query", c.width, int(Q_));
    key_ = linear("key", c.width, int(Q_));
    value_ = linear("value", c.width, int(Q_));
    out_ = linear("out", int(Q_), c.width);
    // flax's xavier_uniform on the 2-D shape (max_len, k): fan_in max_len, fan_out k.
    Tensor e = Tensor::empty({max_len_, K_});
    const double a = std::sqrt(6.0 / double(max_len_ + K_));
    nn::init::uniform(e, init, -a, a);
    proj_ = register_parameter("proj", e);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    check_mixer_input(x, D_, max_len_, "linformer");
    const int64_t B = x.dim(0), L = x.dim(1), d = Q_ / H_;
    Tensor q = ops::scale(query_->forward(x), 1.0 / std::sqrt(double(d)));  // [B, L, Q], LRA scales q
    Tensor k = key_->forward(x), v = value_->forward(x);
    if (mask_padding_) {
      k = zero_padding(k, key_mask);
      v = zero_padding(v, key_mask);
    }
    const Tensor e = L == max_len_ ? proj_ : ops::slice(proj_, 0, 0, L);  // E[:L] [L, k]
    // K'ᵀ and V'ᵀ: [B, Q, k] = kᵀ · E[:L], viewed per head as [B, H, d, k] (Q = H·d is contiguous).
    const Tensor kt = ops::reshape(ops::matmul(k, e, /*trans_a=*/true), {B, H_, d, K_});
    const Tensor vt = ops::reshape(ops::matmul(v, e, /*trans_a=*/true), {B, H_, d, K_});
    q = ops::permute(ops::reshape(q, {B, L, H_, d}), {0, 2, 1, 3});  // [B, H, L, d]
    Tensor p = ops::softmax(ops::matmul(q, kt));                      // [B, H, L, k]
    p = ops::dropout(p, dropout_, gen, training());
    Tensor out = ops::matmul(p, vt, false, /*trans_b=*/true);  // [B, H, L, d]
    out = ops::reshape(ops::permute(out, {0, 2, 1, 3}), {B, L, Q_});
    return out_->forward(out);
  }

 private:
  int64_t H_, D_, Q_, K_, max_len_;
  double dropout_;
  bool mask_padding_;
  std::shared_ptr<Linear> query_, key_, value_, out_;
  Tensor proj_;
};

}  // namespace

LRA_REGISTER_MIXER(linformer, LinformerOptions, "linformer",
                   "softmax attention over keys/values projected along the length to k rows by a learned E "
                   "(k = 16, E shared by K and V)",
                   "O(L k D)", [](const MixerConfig& c, const LinformerOptions& o, Generator& g) {
                     return std::make_shared<LinformerMixer>(c, o, g);
                   });

}  // namespace lra::models
