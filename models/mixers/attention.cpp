// Attention mixers, all on ops::attention (one online-softmax kernel family, nothing L×L stored):
//
//   transformer         full softmax multi-head attention (LRA's vanilla Transformer; reference code:
//                       google-research/long-range-arena, lra_benchmarks/models/transformer/transformer.py)
//   rotary_transformer  the same with rotary q, k (rotary = head by default; the locality-bias paper's
//                       model, pablomiralles22/long-transformers src/models/modules/
//                       rotary_multihead_attention.py)
//   las                 causal LaS attention (Zimerman & Wolf, "Viewing Transformers Through the Lens of
//                       Long Convolutions Layers"): logits times exp(−α_h|i−j|), box-smoothed V
//   las_chunk           LaS inside non-overlapping chunks (chunk, default 64)
//   local               attention inside non-overlapping blocks (block, default 50; LRA's
//                       lra_benchmarks/models/local/local_attention.py)
//
// Mixer settings (typed; every attention mixer takes the first eight, see AttentionOptions):
//   heads (4), qkv_dim (0 = the width), attention_dropout (0.1), attention_bias (false), causal (false),
//   rotary (none | head | full | half), rotary_base (10000), projection_init (lra | torch; torch for
//   rotary_transformer); las adds las_B, las_P; las_chunk adds chunk; local adds block, grouping.
//
// Shared structure, x [B, L, D], attention width Q (qkv_dim, default D: the LRA configs' qkv_dim,
// e.g. 64 inside a 128-wide image model), H heads of d = Q/H channels:
//   q, k, v = split(x · W_qkvᵀ [+ b_qkv])     W_qkv [3Q, D]: the q, k, v weights stacked
//   rotary (none | head | full | half):
//     head: rope over each head's d channels (every head sees the full frequency band);
//     full: rope over the Q-wide q, k before the head split (head 0 gets the highest frequencies, the
//           locality-bias paper's code); half: full with every even frequency zeroed ("disable half").
//   out = attention(q, k, v) [B, H, L, d] → [B, L, Q] → · W_oᵀ [+ b_o]     W_o [D, Q]
//   attention_bias adds the biases b_qkv [3Q] ("qkv.bias") and b_o [D] ("out.bias"), as PyTorch's
//   nn.Linear projections have them (the locality-bias predecessor's rotary attention); by default there
//   are none, as in the LRA code.
//   projection_init, how W_qkv, W_o (and the biases) start, after each model's reference:
//     lra (transformer, las, las_chunk, local): LRA's q, k, v are three flax DenseGenerals D → (H, d)
//       (flax nn/attention.py, MultiHeadDotProductAttention; local_attention.py:258-273) whose
//       xavier_uniform sees the kernel flattened to (D, Q) (nn/linear.py, DenseGeneral's kernel_init_wrap):
//       each block of W_qkv is U(±sqrt(6 / (D + Q))); W_o (a DenseGeneral (H, d) → D) is
//       U(±sqrt(6 / (Q + D))); biases, when attention_bias adds them, are 0 (LRA passes bias=False).
//     torch (rotary_transformer): the predecessor's W_Q, W_K, W_V, W_O are nn.Linear with PyTorch's
//       default init (rotary_multihead_attention.py:32-36): every weight and bias U(±1/sqrt(fan_in)),
//       fan_in D for q, k, v and Q for the output.
//   (Before issue 13 the fused [3Q, D] weight was one Xavier draw over fan_out 3Q, about 0.71× LRA's
//   bound at Q = D; nothing argued for it, so it is gone.)
//   causal = true makes any of them causal (las and las_chunk always are); rotary_base sets the rotary
//   frequency base.
//
// LaS settings: las_B (default 0.1) and las_P (odd, default 5).
//   α_0 = 0 (head 0 is plain causal attention); heads 1..H−1 get α log-spaced ("exponentially
//   uniform") from B/100 up to B: α_c = B · 100^(−(H−1−c)/(H−2)) (H = 2: α_1 = B). The paper only says
//   "exponential-uniformly in [0, B]"; the 100× span is our choice (with B = 0.1 the slowest head
//   still discounts logits by e^(−1) at distance 1000, the fastest at distance 10). α is fixed.
//   Smoothing: the paper's row-wise average pooling of the attention matrix (window P, zero padding,
//   divisor P) equals attention with box-filtered values, AP(S)·V = S·avgpool(V) (ops/avgpool/avgpool.h),
//   so V is pooled along L once per call. The centred window lets output i see V[i + (P−1)/2]: a small
//   look-ahead, harmless for classification (see the avgpool header).
//
// Local grouping (grouping = contiguous | strided | strided_fixed), block C:
//   contiguous (default): blocks [0, C), [C, 2C), ... (the last one may be shorter).
//   strided: LRA's LocalAttention exactly (lra_benchmarks/models/local/local_attention.py):
//     * the input is padded with C − L mod C zero rows before the projections (:228-234): a whole extra
//       block when C divides L, so Lp = L + C − L mod C and n = Lp / C (image and Pathfinder, L 1024,
//       C 64: n 17; text L 1000 and retrieval L 4000, C 50: n 21 and 81);
//     * positions are viewed as [C, n] (:318-323, position c·n + g) and attention runs over the C axis,
//       so group g = {g, g + n, g + 2n, ...}: stride n (17 on a 32×32 image: diagonals, not columns);
//     * the padding mask (inputs > 0, a boolean) is padded with −1e9 (:237), which a boolean stores as
//       True: the padded tail counts as real tokens, its zero keys (logit 0) and zero values take part
//       in every softmax of their group;
//     * the mask is cut contiguously (:342): slice g·C .. g·C + C − 1 of it masks group g, query slot i
//       and key slot j by m̃[g·C + i] · m̃[g·C + j] (flax make_padding_mask, a query × key product), which
//       are not the positions i·n + g, j·n + g of those slots: LRA masks other keys than the padding;
//     * masked pairs get −1e10 (:379-381), which in float32 swamps the logit: a query whose m̃[g·C + i]
//       is 0 has every logit equal and attends uniformly to the C keys of its group (our second
//       attention call, with zero queries), and a real query never sees a masked slot;
//     * the output is sliced back to L after the output projection (:413).
//     Reproduced as computed in float32, with the gradient of that function; JAX differentiates the
//     unrounded logits, which gives uniform rows a (small) gradient into q and k that ours lack.
//     LRA's causal local path cannot run (its [Lp, Lp] causal mask does not broadcast against the blocked
//     [n, C, C] scores); with causal = true ours is causal inside each group.
//   strided_fixed: the same groups with both padding defects fixed (our behaviour before issue 13): L
//     padded only up to a multiple of C (n = ceil(L / C)), the padding mask regrouped with its keys
//     and the padded tail masked, so every query attends to the real keys of its own group.
//
// Attention dropout: attention_dropout drops attention weights
// inside ops::attention, in training mode only (eval: none), with a fresh mask per call drawn from the
// forward's Generator, like every other dropout of the model. The local mixer's strided groupings drop
// weights of the regrouped [B, H, Lp, Lp] problem (the same distribution; a different mask than a
// contiguous layout would draw); LRA's uniform rows are dropped in their own call.
#include <cmath>
#include <string>
#include <tuple>

#include "models/layers.h"
#include "models/mixer.h"
#include "models/mixers/masked_attention.h"  // attention_any_head_dim
#include "ops/attention/attention.h"
#include "ops/avgpool/avgpool.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/rope/rope.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {
namespace {

enum class Kind { Full, Las, LasChunk, Local };
enum class Grouping { Contiguous, Strided, StridedFixed };  // local only (see the file header)

struct AttentionOptions {
  int heads = 4;
  int qkv_dim = 0;  // 0: the model width
  double attention_dropout = 0.1;
  bool attention_bias = false;
  bool causal = false;
  std::string rotary = "none";
  double rotary_base = 10000;
  std::string projection_init = "lra";

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.number("attention_dropout", attention_dropout, "dropout on the attention weights (training only)");
    o.flag("attention_bias", attention_bias, "biases on the q/k/v and output projections (LRA has none)");
    o.flag("causal", causal, "causal attention");
    o.choice("rotary", rotary, {"none", "head", "full", "half"},
             "rotary q, k: per head, over the full width, or full with every even frequency off");
    o.number("rotary_base", rotary_base, "rotary frequency base");
    o.choice("projection_init", projection_init, {"lra", "torch"},
             "q/k/v and output projections: Xavier per projection (LRA) or PyTorch's nn.Linear default");
  }
};

// The locality-bias predecessor's attention: rotary per head, nn.Linear projections.
struct RotaryOptions : AttentionOptions {
  RotaryOptions() {
    rotary = "head";
    projection_init = "torch";
  }
};

struct LasOptions : AttentionOptions {
  double las_B = 0.1;
  int las_P = 5;
  void visit(MixerOptions& o) {
    AttentionOptions::visit(o);
    o.number("las_B", las_B, "largest decay rate alpha (heads 1..H-1 log-spaced from B/100 to B)");
    o.integer("las_P", las_P, "odd window of the value smoothing");
  }
};

struct LasChunkOptions : LasOptions {
  int chunk = 64;
  void visit(MixerOptions& o) {
    LasOptions::visit(o);
    o.integer("chunk", chunk, "chunk length");
  }
};

struct LocalOptions : AttentionOptions {
  int block = 50;
  std::string grouping = "contiguous";
  void visit(MixerOptions& o) {
    AttentionOptions::visit(o);
    o.integer("block", block, "block length");
    o.choice("grouping", grouping, {"contiguous", "strided", "strided_fixed"},
             "blocks of neighbours, LRA's strided groups with its padding and mask, or strided with both fixed");
  }
};

// What distinguishes the five mixers beyond AttentionOptions.
struct Variant {
  Kind kind = Kind::Full;
  double las_B = 0;
  int las_P = 1;
  int chunk = 0;
  Grouping grouping = Grouping::Contiguous;
};

// The fixed LaS decay rates for H heads (see the file header).
std::vector<float> las_alphas(int H, double B) {
  std::vector<float> alpha(static_cast<size_t>(H), 0.0f);
  for (int c = 1; c < H; ++c) {
    double t = H > 2 ? double(H - 1 - c) / double(H - 2) : 0.0;
    alpha[size_t(c)] = float(B * std::pow(100.0, -t));
  }
  return alpha;
}

class AttentionMixer : public Mixer {
 public:
  AttentionMixer(const MixerConfig& c, const AttentionOptions& o, const Variant& v, Generator& init)
      : H_(o.heads), D_(c.width), Q_(attention_width("attention", c.width, o.heads, o.qkv_dim)), rotary_(o.rotary) {
    LRA_CHECK(rotary_ != "head" || (Q_ / o.heads) % 2 == 0, "attention: rotary per head needs an even head dim, got ",
              Q_ / o.heads);
    LRA_CHECK(rotary_ == "none" || rotary_ == "head" || Q_ % 2 == 0, "attention: rotary over the full width needs ",
              "an even attention width, got ", Q_);
    LRA_CHECK(o.attention_dropout >= 0 && o.attention_dropout < 1, "attention: attention_dropout ",
              o.attention_dropout, " is not in [0, 1)");
    dropout_ = o.attention_dropout;
    options_.causal = o.causal;
    rope_.base = o.rotary_base;
    rope_.disable_half = rotary_ == "half";
    if (v.kind == Kind::Las || v.kind == Kind::LasChunk) {
      LRA_CHECK(v.las_B >= 0, "las: las_B = ", v.las_B, " must be >= 0");
      options_.alpha = las_alphas(o.heads, v.las_B);
      options_.causal = true;
      LRA_CHECK(v.las_P >= 1 && v.las_P % 2 == 1, "las: las_P = ", v.las_P, " must be an odd integer >= 1");
      pool_ = v.las_P;
    }
    if (v.kind == Kind::LasChunk || v.kind == Kind::Local) {
      LRA_CHECK(v.chunk >= 1, v.kind == Kind::Local ? "local: block = " : "las_chunk: chunk = ", v.chunk,
                " must be a positive integer");
      options_.chunk = v.chunk;
    }
    grouping_ = v.grouping;
    // LRA: three DenseGenerals D → (H, d), each Xavier over (D, Q), so the fused weight is drawn as three
    // blocks; torch: nn.Linear's U(±1/sqrt(fan_in)) for weights and biases (see the file header).
    const LinearInit how = o.projection_init == "torch" ? LinearInit::TorchDefault : LinearInit::XavierUniform;
    qkv_ = register_module("qkv", std::make_shared<Linear>(c.width, int(3 * Q_), init, how, o.attention_bias, 3));
    out_ = register_module("out", std::make_shared<Linear>(int(Q_), c.width, init, how, o.attention_bias));
  }

  Tensor forward(const Tensor& x_in, const Tensor& key_mask, Generator& gen) override {
    LRA_CHECK(x_in.ndim() == 3 && x_in.dim(2) == D_, "attention: x must be [B, L, ", D_, "], got ", x_in.describe());
    const int64_t B = x_in.dim(0), L_in = x_in.dim(1), d = Q_ / H_;
    // Strided grouping pads the input before the projections, as LRA's local_attention.py does; the
    // padded rows are sliced off after the output projection.
    const int64_t L = grouping_ == Grouping::Contiguous ? L_in : strided_length(L_in);
    const Tensor x = L > L_in ? ops::pad(x_in, 1, 0, L - L_in, 0.0) : x_in;
    std::vector<Tensor> qkv = ops::split(qkv_->forward(x), {Q_, Q_, Q_}, 2);  // each [B, L, Q]
    Tensor q = qkv[0], k = qkv[1], v = qkv[2];
    if (rotary_ == "full" || rotary_ == "half") std::tie(q, k) = ops::rope_qk(q, k, rope_);
    auto heads = [&](const Tensor& t) { return ops::permute(ops::reshape(t, {B, L, H_, d}), {0, 2, 1, 3}); };
    q = heads(q);
    k = heads(k);
    v = heads(v);  // [B, H, L, d]
    if (rotary_ == "head") std::tie(q, k) = ops::rope_qk(q, k, rope_);
    if (pool_ > 1) v = ops::avgpool_seq(v, pool_, 2);

    Tensor out;
    if (grouping_ == Grouping::Contiguous) {
      out = attention_any_head_dim(q, k, v, key_mask, call_options(B, L, gen));
    } else {
      out = strided_attention(q, k, v, key_mask, L_in, gen);
    }
    out = out_->forward(ops::reshape(ops::permute(out, {0, 2, 1, 3}), {B, L, Q_}));
    return L > L_in ? ops::slice(out, 1, 0, L_in) : out;
  }

 private:
  // The padded length Lp = n·C of the strided groupings: LRA pads C − L mod C positions, a whole extra
  // block when C divides L (local_attention.py:228); strided_fixed pads only up to the next multiple.
  int64_t strided_length(int64_t L) const {
    const int64_t C = options_.chunk;
    return grouping_ == Grouping::Strided ? L + (C - L % C) : (L + C - 1) / C * C;
  }
  // The strided groupings on q, k, v [B, H, Lp, d] (already padded, Lp = n·C; L real positions): view the
  // positions as [C, n] (position c·n + g), regroup to [n, C] so that group g = {g, g + n, g + 2n, ...}
  // is one contiguous block, run block attention, and undo the regrouping.
  //   strided (LRA): the key mask is LRA's padding mask m̃ (the caller's mask, ones for the padded tail)
  //     taken in its contiguous order, i.e. slot j of group g is admitted when m̃[g·C + j] = 1, and a query
  //     in slot i of group g whose m̃[g·C + i] = 0 attends uniformly to every key its structure admits in
  //     the group (the second call, with zero queries): LRA's −1e10 bias on a whole row in float32.
  //   strided_fixed: the mask regrouped with its keys, the padded tail masked.
  Tensor strided_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, int64_t L,
                           Generator& gen) const {
    const int64_t B = q.dim(0), Lp = q.dim(2), d = q.dim(3), C = options_.chunk, n = Lp / C;
    auto group = [&](const Tensor& t) {
      return ops::reshape(ops::transpose(ops::reshape(t, {B, H_, C, n, d}), 2, 3), {B, H_, Lp, d});
    };
    Tensor mask = key_mask.defined() ? key_mask : Tensor::ones({B, L}, DType::I32, q.device());
    const bool lra = grouping_ == Grouping::Strided;
    if (Lp > L) mask = ops::pad(mask, 1, 0, Lp - L, lra ? 1.0 : 0.0);
    if (!lra) mask = ops::reshape(ops::transpose(ops::reshape(mask, {B, C, n}), 1, 2), {B, Lp});
    const Tensor gq = group(q), gk = group(k), gv = group(v);
    Tensor out = attention_any_head_dim(gq, gk, gv, mask, call_options(B, Lp, gen));
    if (lra && key_mask.defined()) {
      Tensor uniform = attention_any_head_dim(Tensor::zeros(gq.shape(), gq.dtype(), gq.device()), gk, gv, Tensor(),
                                              call_options(B, Lp, gen));
      const Tensor keep = ops::reshape(ops::cast(mask, out.dtype()), {B, 1, Lp, 1});
      const Tensor drop = ops::sub(Tensor::ones({1}, out.dtype(), out.device()), keep);
      out = ops::add(ops::mul(out, keep), ops::mul(uniform, drop));  // exact: one term is 0, the other ×1
    }
    return ops::reshape(ops::transpose(ops::reshape(out, {B, H_, n, C, d}), 2, 3), {B, H_, Lp, d});
  }

  // The options of one call on [B, H, L, d]: with a fresh dropout mask in training, none in eval.
  ops::AttentionOptions call_options(int64_t B, int64_t L, Generator& gen) const {
    ops::AttentionOptions o = options_;
    if (training()) ops::set_attention_dropout(o, dropout_, gen, B, H_, L);
    return o;
  }

  int64_t H_, D_, Q_;  // heads, model width, attention width
  double dropout_ = 0;
  std::string rotary_;
  ops::RopeOptions rope_;
  ops::AttentionOptions options_;
  int pool_ = 1;
  Grouping grouping_ = Grouping::Contiguous;
  std::shared_ptr<Linear> qkv_, out_;
};

std::shared_ptr<Mixer> make(const MixerConfig& c, const AttentionOptions& o, const Variant& v, Generator& init) {
  return std::make_shared<AttentionMixer>(c, o, v, init);
}

}  // namespace

LRA_REGISTER_MIXER(transformer, AttentionOptions, "transformer",
                   "full softmax multi-head attention (rotary optional: rotary = head | full | half)", "O(L^2 D)",
                   [](const MixerConfig& c, const AttentionOptions& o, Generator& g) { return make(c, o, {}, g); });
LRA_REGISTER_MIXER(rotary_transformer, RotaryOptions, "rotary_transformer",
                   "softmax multi-head attention with rotary q, k (per head; rotary = full | half)", "O(L^2 D)",
                   [](const MixerConfig& c, const RotaryOptions& o, Generator& g) { return make(c, o, {}, g); });
LRA_REGISTER_MIXER(las, LasOptions, "las",
                   "causal LaS attention: logits times exp(-alpha_h |i-j|), avg-pooled values (las_B, las_P)",
                   "O(L^2 D)", [](const MixerConfig& c, const LasOptions& o, Generator& g) {
                     return make(c, o, {Kind::Las, o.las_B, o.las_P, 0, Grouping::Contiguous}, g);
                   });
LRA_REGISTER_MIXER(las_chunk, LasChunkOptions, "las_chunk",
                   "LaS attention inside non-overlapping chunks (chunk, default 64)", "O(L C D)",
                   [](const MixerConfig& c, const LasChunkOptions& o, Generator& g) {
                     return make(c, o, {Kind::LasChunk, o.las_B, o.las_P, o.chunk, Grouping::Contiguous}, g);
                   });
LRA_REGISTER_MIXER(local, LocalOptions, "local",
                   "softmax attention inside non-overlapping blocks (block = 50, grouping = contiguous | strided)",
                   "O(L C D)", [](const MixerConfig& c, const LocalOptions& o, Generator& g) {
                     const Grouping grouping = o.grouping == "strided"         ? Grouping::Strided
                                               : o.grouping == "strided_fixed" ? Grouping::StridedFixed
                                                                               : Grouping::Contiguous;
                     return make(c, o, {Kind::Local, 0, 1, o.block, grouping}, g);
                   });

}  // namespace lra::models
