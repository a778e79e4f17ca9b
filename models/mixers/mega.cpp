// mega: MEGA, moving-average equipped gated attention (Ma et al. 2023), and MEGA-chunk (chunk = C > 0).
// Reference code: facebookresearch/mega at aeaa4b4, fairseq/modules/moving_average_gated_attention.py
// (MovingAverageGatedAttention), exponential_moving_average.py (MultiHeadEMA), relative_positional_bias.py,
// mega_sentence_encoder_layer.py (bidirectional EMA in every LRA layer), fairseq/models/lra/model.py.
//
//   x̂ = the block's normalised input (pre-norm) or x itself (post-norm); x = the block's input
//   v  = SiLU(W_v x̂ + b_v)                                             [B, L, E]
//   mx = SiLU(EMA(x̂) + ω⊙x̂)   EMA: a bidirectional depthwise convolution of the padding-zeroed x̂ with the
//        damped-EMA kernels of ops::ema_kernel (2D rows: D causal, D anti-causal, both including lag 0:
//        ops::fftconv's AntiCausal::FromLag0), K = min(truncation, L) taps; ω⊙x̂ on the unmasked x̂
//        (exponential_moving_average.py 175 before 179–180); then Dropout
//   [u | z r | hx] = W_mx mx + b_mx;  u = σ(·) [D];  (z, r) = SiLU(·) [S], [E];  hx [D]
//   q = z⊙γ₀ + β₀,  k = z⊙γ₁ + β₁                                     (one head, shared z)
//   scores per chunk of C positions (chunk ≤ 0: one chunk of L):
//     softmax:        softmax(q·kᵀ/√S + bias) over the chunk's real keys (run by ops::attention, chunks
//                     folded into its batch: no [C, C] weights are stored, only the shared bias)
//     laplace, relu2: f(q·kᵀ/len + bias)·keymask, len = the chunk's real keys (≥ 1), not normalised;
//                     laplace(s) = ½(1 + erf((s − √½)/(√(1/4π)·√2))), relu2(s) = relu(s)²
//     bias: simple  w[M − 1 + j − i] (w of 2M − 1 entries; M = max_positions, or C when chunking)
//           rotary  rot(a)_i · rot(b)_j (a, b [S] learned; rot rotates the halves (x₁, x₂) by p·θ_k,
//                   θ_k = 10000^(−k/(S/2)))
//   h  = SiLU(hx + W_h((attn·v)⊙r) + b_h), then Dropout
//   out = x + u⊙(h − x)      (the gated residual: the block's un-normalised input x; Mixer::owns_residual)
// L is padded to a multiple of C with masked positions when L > C (the reference pads the tokens,
// mega_lra_encoder.py; MEGA-chunk's memory is then O(B·L·C), never L×L).
//
// Initialisation (reset_parameters of each module): W_v, W_mx, W_h ~ N(0, 0.02²) with zero biases; γ ~ N(0,
// 0.02²), β = 0; EMA delta, alpha ~ N(0, 0.2²), beta ~ N(0, 0.02²) + (1, −1, 1, …), gamma ~ N(0, 1), ω ~ N(0,
// 1); the simple bias and the rotary a, b ~ N(0, 0.02²). Every parameter is in the default group.
// Cost: EMA kernel O(D·N·K), convolution O(B·D·L log L), projections O(B·L·D·(D + S + E)), attention
// O(B·L·C·(S + E)) time and O(B·L·C) memory (C = L without chunking: O(B·L²)) for laplace / relu2, O(C²)
// (the bias and its gradient) for softmax.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "models/layers.h"
#include "models/mixer.h"
#include "ops/dropout/dropout.h"
#include "ops/attention/attention.h"
#include "ops/elementwise/elementwise.h"
#include "ops/ema/ema.h"
#include "ops/fftconv/fftconv.h"
#include "ops/gather/gather.h"
#include "ops/matmul/matmul.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/shape_ops.h"
#include "ops/softmax/softmax.h"

namespace lra::models {
namespace {

struct MegaOptions {
  int z_dim = 64;           // S (LRA: 64; 96 CIFAR, 32 Path-X)
  int hidden_dim = 0;       // E (0: 2·width, every LRA config)
  int ndim = 16;            // N, EMA dimensions per channel (LRA: 16)
  int truncation = 0;       // EMA kernel taps (0: L, the reference's None; LRA: 1024, Path-X 4096)
  int chunk = 0;            // C (≤ 0: full attention, the reference's −1)
  int max_positions = 0;    // simple bias length 2M − 1 (0: the model's max_len)
  std::string attention = "softmax";
  std::string rel_pos_bias = "simple";
  bool bidirectional = true;  // mega_sentence_encoder_layer.py builds every LRA layer bidirectional
  double attention_dropout = 0.0, hidden_dropout = 0.0;

  void visit(MixerOptions& o) {
    o.integer("z_dim", z_dim, "shared q/k width S");
    o.integer("hidden_dim", hidden_dim, "value / gate width E (0: 2·width)");
    o.integer("ndim", ndim, "EMA dimensions N per channel");
    o.integer("truncation", truncation, "EMA kernel length cap (0: the sequence length)");
    o.integer("chunk", chunk, "attention chunk size C (<= 0: full attention; MEGA-chunk)");
    o.integer("max_positions", max_positions, "simple relative bias covers 2M-1 offsets (0: max_len)");
    o.choice("attention", attention, {"softmax", "laplace", "relu2"}, "attention function");
    o.choice("rel_pos_bias", rel_pos_bias, {"simple", "rotary"}, "relative positional bias");
    o.flag("bidirectional", bidirectional, "EMA in both directions (LRA layers)");
    o.number("attention_dropout", attention_dropout, "dropout on the attention weights");
    o.number("hidden_dropout", hidden_dropout, "dropout on v (the reference's act-dropout)");
  }
};

Tensor normal_init(const Shape& shape, double std, Generator& gen) {
  Tensor t = Tensor::empty(shape);
  nn::init::normal(t, gen, 0.0, std);
  return t;
}

class MegaMixer : public Mixer {
 public:
  MegaMixer(const MixerConfig& c, const MegaOptions& o, Generator& gen)
      : D_(c.width), max_len_(c.max_len), dropout_(c.dropout), o_(o) {
    S_ = o.z_dim;
    E_ = o.hidden_dim > 0 ? o.hidden_dim : 2 * D_;
    LRA_CHECK(S_ > 0 && o.ndim > 0, "mega: z_dim and ndim must be positive, got ", S_, " and ", o.ndim);
    LRA_CHECK(o.rel_pos_bias != "rotary" || S_ % 2 == 0, "mega: rotary bias needs an even z_dim, got ", S_);
    LRA_CHECK(o.truncation >= 0, "mega: truncation must be >= 0 (0: no cap), got ", o.truncation);
    M_ = o.chunk > 0 ? o.chunk : (o.max_positions > 0 ? o.max_positions : max_len_);
    const int64_t rows = o.bidirectional ? 2 * D_ : D_;
    const int64_t N = o.ndim;
    // MultiHeadEMA.reset_parameters: beta = (1, −1, 1, …) + N(0, 0.02²).
    Tensor ema_beta = normal_init({rows, N}, 0.02, gen);
    {
      std::vector<float> b = ema_beta.to_vector<float>();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t n = 0; n < N; ++n) b[size_t(r * N + n)] += n % 2 == 0 ? 1.f : -1.f;
      ema_beta = Tensor::from_vector(b, {rows, N});
    }
    ema_delta_ = register_parameter("ema_delta", normal_init({rows, N}, 0.2, gen));
    ema_alpha_ = register_parameter("ema_alpha", normal_init({rows, N}, 0.2, gen));
    ema_beta_ = register_parameter("ema_beta", ema_beta);
    ema_gamma_ = register_parameter("ema_gamma", normal_init({rows, N}, 1.0, gen));
    omega_ = register_parameter("omega", normal_init({D_}, 1.0, gen));
    v_weight_ = register_parameter("v_weight", normal_init({E_, D_}, 0.02, gen));
    v_bias_ = register_parameter("v_bias", Tensor::zeros({E_}), nn::ParamKind::Bias);
    mx_weight_ = register_parameter("mx_weight", normal_init({2 * D_ + S_ + E_, D_}, 0.02, gen));
    mx_bias_ = register_parameter("mx_bias", Tensor::zeros({2 * D_ + S_ + E_}), nn::ParamKind::Bias);
    h_weight_ = register_parameter("h_weight", normal_init({D_, E_}, 0.02, gen));
    h_bias_ = register_parameter("h_bias", Tensor::zeros({D_}), nn::ParamKind::Bias);
    qk_gamma_ = register_parameter("qk_gamma", normal_init({2, S_}, 0.02, gen));
    qk_beta_ = register_parameter("qk_beta", Tensor::zeros({2, S_}));
    if (o.rel_pos_bias == "simple") {
      rel_bias_ = register_parameter("rel_pos_bias", normal_init({2 * M_ - 1}, 0.02, gen));
    } else {
      rot_alpha_ = register_parameter("rotary_alpha", normal_init({1, S_}, 0.02, gen));
      rot_beta_ = register_parameter("rotary_beta", normal_init({1, S_}, 0.02, gen));
    }
  }

  bool owns_residual() const override { return true; }

  // The EMA's kernels (the only input-independent convolution; the gated attention is not one).
  std::vector<MixerKernel> materialized_kernels(int64_t L) override {
    autograd::NoGrad no_grad;
    Tensor k = ema_kernel(L);
    if (!o_.bidirectional) return {mixer_kernel("ema causal", false, 0, k)};
    return {mixer_kernel("ema causal", false, 0, ops::slice(k, 0, 0, D_)),
            mixer_kernel("ema anti-causal", true, 0, ops::slice(k, 0, D_, 2 * D_))};
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    Gated g = gated(x, key_mask, gen);
    return ops::mul(g.u, ops::sub(g.h, x));
  }

  Tensor forward_residual(const Tensor& residual, const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    LRA_CHECK(residual.shape() == x.shape(), "mega: residual ", residual.describe(), " and x ", x.describe(),
              " differ in shape");
    Gated g = gated(x, key_mask, gen);
    return ops::add(residual, ops::mul(g.u, ops::sub(g.h, residual)));
  }

 private:
  struct Gated {
    Tensor u, h;  // the update gate and the candidate output, [B, L, D]
  };

  // The EMA kernels [rows, taps] the convolution of a length-L sequence uses (rows D causal, then D
  // anti-causal when bidirectional), taps = min(truncation, L).
  Tensor ema_kernel(int64_t L) {
    const int64_t taps = o_.truncation > 0 ? std::min<int64_t>(o_.truncation, L) : L;
    return ops::ema_kernel(ema_delta_, ema_alpha_, ema_beta_, ema_gamma_, taps);
  }

  // SiLU(EMA(x) + ω⊙x), x [B, L, D].
  Tensor ema(const Tensor& x, const Tensor& key_mask) {
    Tensor u = ops::transpose(zero_padding(x, key_mask), 1, 2);  // [B, D, L]
    Tensor k = ema_kernel(x.dim(1));
    ops::FFTConvOptions opts;
    Tensor y;
    if (o_.bidirectional) {
      opts.anti = ops::AntiCausal::FromLag0;
      y = ops::fftconv(u, ops::slice(k, 0, 0, D_), ops::slice(k, 0, D_, 2 * D_), Tensor(), opts);
    } else {
      y = ops::fftconv(u, k, Tensor(), Tensor(), opts);
    }
    return ops::silu(ops::add(ops::transpose(y, 1, 2), ops::mul(x, omega_)));
  }

  // The relative bias [C, C] for a chunk of C positions.
  Tensor bias(int64_t C, DType dtype, Device device) {
    if (rel_bias_.defined()) {
      LRA_CHECK(C <= M_, "mega: sequence (or chunk) length ", C, " exceeds max_positions ", M_);
      auto it = bias_index_.find(C);
      if (it == bias_index_.end() || it->second.device() != device) {
        std::vector<int32_t> idx(size_t(C * C));
        for (int64_t i = 0; i < C; ++i)
          for (int64_t j = 0; j < C; ++j) idx[size_t(i * C + j)] = int32_t(M_ - 1 + j - i);
        it = bias_index_.insert_or_assign(C, Tensor::from_vector(idx, {C * C}).to(device)).first;
      }
      return ops::reshape(ops::gather(rel_bias_, 0, it->second), {C, C});
    }
    // Rotary (RotaryRelativePositionalBias): sin/cos tables of positions 0..C−1, θ_k = 10000^(−k/half).
    const int64_t half = S_ / 2;
    std::vector<double> sn(size_t(C * half)), cs(size_t(C * half));
    for (int64_t p = 0; p < C; ++p)
      for (int64_t k = 0; k < half; ++k) {
        // In double (the reference builds θ and p·θ in float32: a relative difference below 1e-6).
        const double a = double(p) * std::exp(-double(k) * std::log(10000.0) / double(half));
        sn[size_t(p * half + k)] = std::sin(a);
        cs[size_t(p * half + k)] = std::cos(a);
      }
    Tensor sin_t = ops::cast(Tensor::from_vector(sn, {C, half}), dtype).to(device);
    Tensor cos_t = ops::cast(Tensor::from_vector(cs, {C, half}), dtype).to(device);
    auto rotate = [&](const Tensor& w) {  // w [1, S] → [C, S]
      Tensor w1 = ops::slice(w, 1, 0, half), w2 = ops::slice(w, 1, half, S_);
      return ops::concat({ops::sub(ops::mul(w1, cos_t), ops::mul(w2, sin_t)),
                          ops::add(ops::mul(w2, cos_t), ops::mul(w1, sin_t))},
                         1);
    };
    return ops::matmul(rotate(rot_alpha_), rotate(rot_beta_), false, true);
  }

  // The head dim ops::attention runs softmax attention with: max(S, E) on the CPU; on CUDA the next of its
  // compiled head dims (32, 64, 128), or 0 when max(S, E) > 128 (the materialised path then runs).
  int64_t attention_width(Device device) const {
    const int64_t w = std::max(S_, E_);
    if (device == Device::CPU) return w;
    for (int64_t d : {32, 64, 128})
      if (w <= d) return d;
    return 0;
  }

  Gated gated(const Tensor& x, const Tensor& key_mask, Generator& gen) {
    check_mixer_input(x, D_, max_len_, "mega");
    const int64_t B = x.dim(0), L = x.dim(1);
    const bool train = training();
    Tensor v = ops::silu(ops::linear(x, v_weight_, v_bias_));  // [B, L, E]
    Tensor mx = ops::dropout(ema(x, key_mask), dropout_, gen, train);
    Tensor base = ops::linear(mx, mx_weight_, mx_bias_);  // [B, L, 2D + S + E]
    Tensor u = ops::sigmoid(ops::slice(base, 2, 0, D_));
    Tensor zr = ops::silu(ops::slice(base, 2, D_, D_ + S_ + E_));
    Tensor hx = ops::slice(base, 2, D_ + S_ + E_, 2 * D_ + S_ + E_);
    Tensor z = ops::slice(zr, 2, 0, S_), r = ops::slice(zr, 2, S_, S_ + E_);
    Tensor q = ops::add(ops::mul(z, ops::slice(qk_gamma_, 0, 0, 1)), ops::slice(qk_beta_, 0, 0, 1));
    Tensor k = ops::add(ops::mul(z, ops::slice(qk_gamma_, 0, 1, 2)), ops::slice(qk_beta_, 0, 1, 2));

    // Chunks: one of L without chunking or when L ≤ C; else L padded to a multiple of C (masked).
    const int64_t C = o_.chunk > 0 && L > o_.chunk ? o_.chunk : L;
    const int64_t nc = C > 0 ? (L + C - 1) / C : 0, Lp = nc * C;
    Tensor mask = key_mask;
    if (Lp != L) {
      if (!mask.defined()) mask = Tensor::ones({B, L}, DType::I32, x.device());
      mask = ops::pad(mask, 1, 0, Lp - L);
      q = ops::pad(q, 1, 0, Lp - L);
      k = ops::pad(k, 1, 0, Lp - L);
      v = ops::pad(v, 1, 0, Lp - L);
    }
    v = ops::dropout(v, o_.hidden_dropout, gen, train);
    q = ops::reshape(q, {B, nc, C, S_});
    k = ops::reshape(k, {B, nc, C, S_});
    v = ops::reshape(v, {B, nc, C, E_});
    Tensor bias_cc = bias(C, x.dtype(), x.device());
    Tensor attn, h;  // the weights [B, nc, C, C] (materialised paths) and attn·v [B, Lp, E]
    const int64_t Dp = attention_width(x.device());
    if (o_.attention == "softmax" && Dp > 0) {
      // The same function through ops::attention (s = q·kᵀ/√S + bias, masked softmax over the chunk's keys,
      // the weights' dropout, ·v) with the chunks folded into its batch and one head: nothing [C, C] per
      // batch row is stored (only the shared bias), and the float32 CPU path is the tiled one. q, k and v
      // share the head dim there, so the narrower side is zero-padded to Dp (zeros add nothing to q·k and
      // give output columns that are cut off) and the scale is stated. The dropout mask is the one
      // ops::dropout draws for the [B, nc, C, C] weights (attention.h: the same counters, the same layout).
      auto heads = [&](const Tensor& t, int64_t w) {
        Tensor r = ops::reshape(t, {B * nc, 1, C, w});
        return w < Dp ? ops::pad(r, 3, 0, Dp - w) : r;
      };
      ops::AttentionOptions ao;
      ao.scale = 1.0 / std::sqrt(double(S_));
      if (train) ops::set_attention_dropout(ao, o_.attention_dropout, gen, B * nc, 1, C);
      Tensor out = ops::attention(heads(q, S_), heads(k, S_), heads(v, E_),
                                  mask.defined() ? ops::reshape(mask, {B * nc, C}) : Tensor(), ao,
                                  ops::reshape(bias_cc, {1, C, C}));
      if (Dp > E_) out = ops::slice(out, 3, 0, E_);
      h = ops::reshape(out, {B, Lp, E_});
    } else if (o_.attention == "softmax") {
      Tensor scores = ops::add(ops::matmul(ops::scale(q, 1.0 / std::sqrt(double(S_))), k, false, true), bias_cc);
      // softmax's mask is [batch, keys] with batch = the leading dim: fold the chunks into it.
      attn = mask.defined() ? ops::reshape(ops::softmax(ops::reshape(scores, {B * nc, C, C}),
                                                        ops::reshape(mask, {B * nc, C})),
                                           {B, nc, C, C})
                            : ops::softmax(scores);
    } else {
      Tensor qk = ops::matmul(q, k, false, true);  // [B, nc, C, C]
      Tensor keep;                                 // [B, nc, 1, C], 1 = a real key
      if (mask.defined()) {
        keep = ops::reshape(ops::cast(mask, x.dtype()), {B, nc, 1, C});
        // len = the chunk's real keys, at least 1 (element_attention: lengths.clamp(min=1)).
        Tensor len = ops::sum(keep, 3, true);
        len = ops::max(ops::concat({len, Tensor::ones(len.shape(), x.dtype(), x.device())}, 3), 3, true);
        qk = ops::div(qk, len);
      } else {
        qk = ops::scale(qk, 1.0 / double(C));
      }
      Tensor s = ops::add(qk, bias_cc);
      attn = o_.attention == "laplace" ? ops::laplace(s) : ops::mul(ops::relu(s), ops::relu(s));
      if (keep.defined()) attn = ops::mul(attn, keep);
    }
    if (!h.defined()) {
      attn = ops::dropout(attn, o_.attention_dropout, gen, train);
      h = ops::reshape(ops::matmul(attn, v), {B, Lp, E_});
    }
    if (Lp != L) h = ops::slice(h, 1, 0, L);
    h = ops::silu(ops::add(hx, ops::linear(ops::mul(h, r), h_weight_, h_bias_)));
    h = ops::dropout(h, dropout_, gen, train);
    return {u, h};
  }

  int64_t D_, max_len_, S_, E_, M_;
  double dropout_;
  MegaOptions o_;
  Tensor ema_delta_, ema_alpha_, ema_beta_, ema_gamma_, omega_;
  Tensor v_weight_, v_bias_, mx_weight_, mx_bias_, h_weight_, h_bias_, qk_gamma_, qk_beta_;
  Tensor rel_bias_, rot_alpha_, rot_beta_;
  std::map<int64_t, Tensor> bias_index_;  // simple bias: the gather index of a [C, C] Toeplitz, per C
};

}  // namespace

LRA_REGISTER_MIXER(mega, MegaOptions, "mega",
                   "MEGA: bidirectional damped-EMA long conv (FFT), single-head gated attention (softmax | "
                   "laplace | relu2, relative bias) with reset/update gates; chunk=C: MEGA-chunk",
                   "O(D·N·K + D·L log L + L·C·(S+E)), C = L unchunked",
                   [](const MixerConfig& c, const MegaOptions& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<MegaMixer>(c, o, g);
                   });

}  // namespace lra::models
