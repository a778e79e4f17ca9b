// synthesizer: attention weights synthesised from learned matrices or from each token alone (Tay et al.
// 2021, "Synthesizer: Rethinking Self-Attention in Transformer Models"), optionally mixed with dot-product
// attention, as the LRA code builds it: google-research/long-range-arena,
// lra_benchmarks/models/synthesizer/synthesizer_attention.py (SynthesizerAttention, synthetic_attention)
// and synthesizer.py (the block: bias=False, Xavier-uniform kernels, max_length = max_len with the CLS
// row counted). Our notes: lra-benchmark.md §4.1 item 8.
//
//   x [B, L, D], attention width Q (qkv_dim), H heads of d = Q/H channels, M = max_len:
//   v = x·W_vᵀ                                               Linear(D → Q), Xavier(D, Q), no bias (LRA)
//   logits s_h[i, j] = the sum of the parts that are on:
//     dot_product:       (q_i · k_j) / √d                     q, k: Linear(D → Q) like v
//     random:            R[h, i, j]                           R [H, M, M] ("random")
//     factorized_random: (R1[h] · R2[h])[i, j]                R1 [H, M, k] ("random1"), R2 [H, k, M] ("random2")
//     dense:             relu(x_i·W1ᵀ)_h · W2[j]              W1 [Q, D] ("dense_syn"), W2 [M, d] ("dense_syn2")
//   out_h = dropout(softmax_j(s_h)) · v_h;  y = concat_h(out_h) · W_oᵀ     Linear(Q → D), no bias
//   Only the first L rows/columns of R, R1, R2, W2 are used (LRA slices them to the length).
// mode = random | factorized_random | dense | dense+random | dense+factorized_random picks the synthetic
// parts; dot_product = true adds q·k (LRA's ignore_dot_product = False). The default, mode = random with
// dot_product = true, is what every LRA config trains: SynthesizerEncoder's defaults are
// synthesizer_mode='random', ignore_dot_product=False; CIFAR and Pathfinder set 'random' again, and the text
// config's ignore_dot_product / factorized_random / k = 32 sit at the config's top level, which the
// trainer never forwards to the model.
//
// LRA behaviours we reproduce:
//   * Masks: with dot_product, padded keys are excluded (LRA's −1e10 bias; we mask keys only, as the
//     transformer mixer does, so a padded query attends to the real keys instead of uniformly to all);
//     without dot_product LRA applies NO padding mask at all, so padded keys receive weight. So do we.
//   * dense, dense_layout = reshape (default): LRA maps relu(x·W1ᵀ) [B, L, H, d] to per-head rows with a
//     reshape to [B, H, L, d], not a transpose, so for H > 1 "head h, query i" reads the features of token
//     (h·L + i) / H, head (h·L + i) % H. dense_layout = transpose is the intended per-head layout.
//     The dense kernels: W1 is DenseGeneral((H, d)) and W2 one Dense(d → M) shared by the heads.
//   * Initialisation (flax xavier_uniform with the fans of the stored shape): W_q, W_k, W_v, W1 Xavier(D, Q),
//     W_o Xavier(Q, D), W2 U(±√(6/(d + M))); R, R1, R2 are 3-D params whose fans count the heads:
//     R U(±√(3/(H·M))), R1 and R2 U(±√(6/(H·(M + k)))).
//   * The encoder's k argument is never passed to the attention, so k is always the attention's 32.
//
// How the engine computes it (matmul-free of L×L except where the model is L×L): every part except the
// plain random one is a dot product of per-(h, i) query features with per-(h, j) key features, so the
// parts are concatenated along the head dim and one ops::attention call (scale 1, online softmax, nothing
// L×L stored) computes softmax(Σ parts)·v:
//   query features [q/√d | R1[h, i, :] | relu(x·W1ᵀ) per head]   key features [k | R2[h, :, j] | W2[j]]
// with v zero-padded to the same width (and the output sliced back); on CUDA the width is padded to the
// kernel's head dims 32, 64 or 128 (zero columns change no product). The plain random part R[:, :L, :L]
// enters as the attention's shared [H, L, L] additive bias: R is itself H·M² parameters, so this is the
// model's own L² and nothing larger is kept between the passes (the op's backward forms the bias gradient
// per batch row before summing it). Attention dropout is the op's (per weight, LRA's broadcast_dropout=False).
// Cost in L: time O(B·H·L²·(F + d)) with F the concatenated feature width; memory O(B·L·(F + Q)) plus the
// parameters R (H·M²) when random is on.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "models/layers.h"
#include "models/mixer.h"
#include "ops/attention/attention.h"
#include "ops/elementwise/elementwise.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {
namespace {

struct SynthesizerOptions {
  int heads = 4;
  int qkv_dim = 0;  // 0: the model width
  double attention_dropout = 0.1;
  std::string mode = "random";
  bool dot_product = true;
  int k = 32;
  std::string dense_layout = "reshape";

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.number("attention_dropout", attention_dropout, "dropout on the attention weights (training only)");
    o.choice("mode", mode, {"random", "factorized_random", "dense", "dense+random", "dense+factorized_random"},
             "synthetic logits: learned R [H, M, M], R1·R2 of rank k, relu(x W1) W2 from each token, or a sum");
    o.flag("dot_product", dot_product, "add q.k/sqrt(d) and mask padded keys (LRA: ignore_dot_product = false)");
    o.integer("k", k, "rank of factorized_random (R1 [H, M, k], R2 [H, k, M])");
    o.choice("dense_layout", dense_layout, {"reshape", "transpose"},
             "dense per-head rows: LRA's reshape of [B, L, H, d] to [B, H, L, d], or a transpose");
  }
};

// CUDA attention kernels take head dims 32, 64 and 128 (ops/attention/attention.h).
int64_t cuda_head_dim(int64_t w) { return w <= 32 ? 32 : w <= 64 ? 64 : w <= 128 ? 128 : w; }

class SynthesizerMixer : public Mixer {
 public:
  SynthesizerMixer(const MixerConfig& c, const SynthesizerOptions& o, Generator& init)
      : H_(o.heads), D_(c.width), Q_(attention_width("synthesizer", c.width, o.heads, o.qkv_dim)),
        M_(c.max_len), K_(o.k),
        dot_(o.dot_product), dense_reshape_(o.dense_layout == "reshape"), dropout_(o.attention_dropout) {
    LRA_CHECK(o.attention_dropout >= 0 && o.attention_dropout < 1, "synthesizer: attention_dropout ",
              o.attention_dropout, " is not in [0, 1)");
    factorized_ = o.mode.find("factorized_random") != std::string::npos;
    random_ = !factorized_ && o.mode.find("random") != std::string::npos;
    dense_ = o.mode.find("dense") != std::string::npos;
    LRA_CHECK(!factorized_ || o.k >= 1, "synthesizer: k = ", o.k, " must be a positive integer");
    const int64_t d = Q_ / H_;
    auto linear = [&](const char* name, int in, int out) {
      return register_module(name, std::make_shared<Linear>(in, out, init, LinearInit::XavierUniform, false));
    };
    if (dot_) {
      query_ = linear("query", c.width, int(Q_));
      key_ = linear("key", c.width, int(Q_));
    }
    value_ = linear("value", c.width, int(Q_));
    // flax xavier_uniform on a 3-D [H, a, b] parameter: fan_in = a·H, fan_out = b·H.
    auto uniform = [&](const char* name, const Shape& shape, double fans) {
      Tensor t = Tensor::empty(shape);
      const double a = std::sqrt(6.0 / fans);
      nn::init::uniform(t, init, -a, a);
      return register_parameter(name, t);
    };
    if (random_) random_r_ = uniform("random", {H_, M_, M_}, double(H_) * double(2 * M_));
    if (factorized_) {
      random1_ = uniform("random1", {H_, M_, K_}, double(H_) * double(M_ + K_));
      random2_ = uniform("random2", {H_, K_, M_}, double(H_) * double(M_ + K_));
    }
    if (dense_) {
      dense_syn_ = linear("dense_syn", c.width, int(Q_));
      dense_syn2_ = uniform("dense_syn2", {M_, d}, double(d + M_));  // LRA's kernel [d, M], stored transposed
    }
    out_ = linear("out", int(Q_), c.width);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    check_mixer_input(x, D_, M_, "synthesizer");
    const int64_t B = x.dim(0), L = x.dim(1), d = Q_ / H_;
    auto heads = [&](const Tensor& t) { return ops::permute(ops::reshape(t, {B, L, H_, d}), {0, 2, 1, 3}); };
    // [H, L, w] or [1, L, w] shared by the batch (and the heads) → [B, H, L, w]: a broadcast add, whose
    // backward sums over what was broadcast.
    auto over_batch = [&](const Tensor& t) {
      return ops::add(Tensor::zeros({B, H_, 1, 1}, t.dtype(), t.device()), t);
    };
    std::vector<Tensor> qf, kf;  // per-part query and key features, each [B, H, L, w]
    if (dot_) {
      qf.push_back(heads(ops::scale(query_->forward(x), 1.0 / std::sqrt(double(d)))));
      kf.push_back(heads(key_->forward(x)));
    }
    if (factorized_) {
      qf.push_back(over_batch(cut(random1_, 1, L)));                           // R1[h, i, :]
      kf.push_back(over_batch(ops::transpose(cut(random2_, 2, L), 1, 2)));     // R2[h, :, j]
    }
    if (dense_) {
      Tensor h = ops::relu(dense_syn_->forward(x));  // [B, L, Q] = [B, L, H, d]
      qf.push_back(dense_reshape_ ? ops::reshape(h, {B, H_, L, d}) : heads(h));
      kf.push_back(over_batch(ops::reshape(cut(dense_syn2_, 0, L), {1, L, d})));  // W2[j] for every head
    }
    Tensor v = heads(value_->forward(x));
    Tensor q, k;
    int64_t F = 0;
    if (qf.empty()) {  // random alone: the logits are the bias only
      F = d;
      q = Tensor::zeros({B, H_, L, d}, x.dtype(), x.device());
      k = q;
    } else {
      q = qf.size() == 1 ? qf[0] : ops::concat(qf, 3);
      k = kf.size() == 1 ? kf[0] : ops::concat(kf, 3);
      F = q.dim(3);
    }
    int64_t W = std::max(F, d);
    if (x.device() != Device::CPU) W = cuda_head_dim(W);
    if (W > F) {
      q = ops::pad(q, 3, 0, W - F);
      k = ops::pad(k, 3, 0, W - F);
    }
    if (W > d) v = ops::pad(v, 3, 0, W - d);

    ops::AttentionOptions o;
    o.scale = 1.0;  // the dot-product part is already scaled by 1/√d
    if (training()) ops::set_attention_dropout(o, dropout_, gen, B, H_, L);
    const Tensor bias = random_ ? cut(cut(random_r_, 1, L), 2, L) : Tensor();
    Tensor out = ops::attention(q, k, v, dot_ ? key_mask : Tensor(), o, bias);  // [B, H, L, W]
    if (W > d) out = ops::slice(out, 3, 0, d);
    out = ops::reshape(ops::permute(out, {0, 2, 1, 3}), {B, L, Q_});
    return out_->forward(out);
  }

 private:
  // The first L entries of t along dim (t itself when that is all of it).
  static Tensor cut(const Tensor& t, int dim, int64_t L) { return t.dim(dim) == L ? t : ops::slice(t, dim, 0, L); }

  int64_t H_, D_, Q_, M_, K_;
  bool dot_, dense_reshape_;
  bool random_ = false, factorized_ = false, dense_ = false;
  double dropout_;
  std::shared_ptr<Linear> query_, key_, value_, dense_syn_, out_;
  Tensor random_r_, random1_, random2_, dense_syn2_;
};

}  // namespace

LRA_REGISTER_MIXER(synthesizer, SynthesizerOptions, "synthesizer",
                   "softmax of synthetic logits (learned R [H, M, M] by default; factorized or dense per-token "
                   "modes) plus q.k (dot_product)",
                   "O(L^2 D)", [](const MixerConfig& c, const SynthesizerOptions& o, Generator& g) {
                     return std::make_shared<SynthesizerMixer>(c, o, g);
                   });

}  // namespace lra::models
