// lru: the Linear Recurrent Unit (Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu, De 2023, "Resurrecting
// Recurrent Neural Networks for Long Sequences", Appendix A pseudocode). Reference code: NicolasZucchet/
// minimal-LRU lru/model.py (class LRU: the recurrence; class SequenceLayer: the block around it).
//
//   u = x [B, L, H] (H = D)
//   λ = exp(−exp(ν_log) + i·exp(θ_log))                       [N] complex, |λ| < 1 by construction
//   B̄ = diag(exp(γ_log)) (B_re + i·B_im)                      [N, H] complex
//   h_t = λ ⊙ h_{t−1} + B̄ u_t,  h_{−1} = 0                   [B, L, N] complex (ops::scan_complex)
//   y_t = Re(C h_t) + D ⊙ u_t,  C = C_re + i·C_im            [B, L, H] (no factor 2, no conjugate pairs)
//   then the block of SequenceLayer: GELU (flax's default tanh form) → dropout (one mask per (b, h),
//   broadcast over L: flax Dropout with broadcast_dims=[0] under the batch vmap) → out1(y) ⊙ σ(out2(y))
//   (one Linear H→2H and GLU). The backbone adds the second dropout (tied_dropout = true in the configs)
//   and the residual; the configs set ffn = 0 (SequenceLayer has no FFN).
//
// Everything is composed from existing real ops and computed differentiably in every forward: λ from
// exp, sin, cos and mul; complex numbers as interleaved (re, im) pairs, so B̄ is a real [2N, H] GEMM
// weight (rows (γ_n B_re[n], γ_n B_im[n])) producing b = B̄u as [B, L, N, 2], and Re(C h) is a real
// [H, 2N] GEMM weight with columns (C_re, −C_im) applied to h viewed as [B, L, 2N].
//
// bidirectional (our extension; minimal-LRU and the paper's pseudocode are unidirectional): a second,
// reverse-time scan over the same λ and B̄u, read out by its own C (C_re_rev, C_im_rev), added to y; as
// S5's bidirectional layer, lag 0 (the current input) is counted by both directions.
// Padding: the reference masks nothing inside a layer (pads run through the scan). mask_padding = true
// zeroes padded positions of u first (then no pad reaches a real position, even in the reverse scan).
//
// Initialisation (lru/model.py nu_init, theta_init, gamma_log_init, matrix_init), U ~ U[0, 1):
//   ν_log = log(−½ log(U·(r_max² − r_min²) + r_min²))  (|λ|² uniform on [r_min², r_max²]: uniform over
//   the annulus' area), θ_log = log(max_phase·U), γ_log = log √(1 − |λ|²) (from the stored ν), B_re, B_im
//   ~ N(0, 1)/√(2H), C_re, C_im ~ N(0, 1)/√N, D ~ N(0, 1); out1/out2 flax Dense: LeCun normal (here
//   untruncated, std 1/√H), zero bias. A draw of U = 0 (probability ~1e-7 per entry) would make ν_log
//   or θ_log infinite; it is moved to the smallest positive float (the reference does not guard it).
// Parameter groups: ν_log, θ_log, γ_log, B_re, B_im in "ssm" (minimal-LRU: Adam at lr_factor·lr, no
// weight decay); C, D and the GLU Linear in the default group (AdamW with weight decay).
// Cost: O(B·L·N·H) for the two projections (4·B·L·N·H FLOPs forward, doubled when bidirectional), O(B·L·N)
// for the scan; memory O(B·L·N) (b and h, [B, L, N] complex each, no [H, N, L] and no L×L tensor).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "models/layers.h"
#include "models/mixer.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/scan/scan.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {
namespace {

struct LRUOptions {
  int ssm_n = 128;
  double r_min = 0.0, r_max = 1.0;
  double max_phase = 6.28;
  bool bidirectional = false;
  bool glu = true;
  bool gelu_tanh = true;
  bool mask_padding = false;

  void visit(MixerOptions& o) {
    o.integer("ssm_n", ssm_n, "state size N (complex states; minimal-LRU d_hidden)");
    o.number("r_min", r_min, "smallest initial |λ| (the ring's inner radius)");
    o.number("r_max", r_max, "largest initial |λ| (the ring's outer radius)");
    o.number("max_phase", max_phase, "initial arg λ drawn from U[0, max_phase) (minimal-LRU: 6.28)");
    o.flag("bidirectional", bidirectional, "add a reverse-time scan with its own C (our extension, as S5's)");
    o.flag("glu", glu, "minimal-LRU's SequenceLayer block GELU → dropout → out1(y)·σ(out2(y)); false: the bare LRU output");
    o.flag("gelu_tanh", gelu_tanh, "GELU's tanh approximation (flax nn.gelu's default); false: the erf form");
    o.flag("mask_padding", mask_padding, "zero padded positions before the scan (the reference does not)");
  }
};

// --- complex numbers as interleaved (re, im) pairs, for the real GEMMs around the scan ---------------

// [..., K] and [..., K] -> [..., 2K] with (re_k, im_k) adjacent, i.e. [..., K, 2] flattened.
Tensor interleave(const Tensor& re, const Tensor& im) {
  std::vector<int64_t> dims = re.shape().vec();
  std::vector<int64_t> pair = dims;
  pair.push_back(1);
  Tensor z = ops::concat({ops::reshape(re, pair), ops::reshape(im, pair)}, int(pair.size()) - 1);
  dims.back() *= 2;
  return ops::reshape(z, dims);
}

// B̄ as the [2N, H] weight of b = u·Wᵀ: row 2n is γ_n B_re[n], row 2n+1 is γ_n B_im[n].
Tensor input_weight(const Tensor& B_re, const Tensor& B_im, const Tensor& gamma) {
  const int64_t N = B_re.dim(0), H = B_re.dim(1);
  const Tensor g = ops::reshape(gamma, {N, 1});
  const Tensor rows = ops::concat({ops::reshape(ops::mul(B_re, g), {N, 1, H}), ops::reshape(ops::mul(B_im, g), {N, 1, H})}, 1);
  return ops::reshape(rows, {2 * N, H});
}

// Re(C h) as the [H, 2N] weight of y = h·Wᵀ on h viewed as [..., 2N]: columns (C_re[:, n], −C_im[:, n]).
Tensor output_weight(const Tensor& C_re, const Tensor& C_im) { return interleave(C_re, ops::scale(C_im, -1.0)); }

class LRUMixer : public Mixer {
 public:
  LRUMixer(const MixerConfig& c, const LRUOptions& o, Generator& gen)
      : H_(c.width), max_len_(c.max_len), dropout_(c.dropout), bidirectional_(o.bidirectional),
        glu_(o.glu), gelu_tanh_(o.gelu_tanh), mask_padding_(o.mask_padding) {
    const int64_t N = o.ssm_n;
    LRA_CHECK(N >= 1, "lru: ssm_n (the state size N) must be >= 1, got ", N);
    LRA_CHECK(0 <= o.r_min && o.r_min <= o.r_max && o.r_max <= 1, "lru: need 0 <= r_min <= r_max <= 1, got r_min ",
              o.r_min, " and r_max ", o.r_max);
    LRA_CHECK(o.max_phase > 0, "lru: max_phase must be > 0, got ", o.max_phase);

    // The ring: U drawn as float32 (as the reference's jax.random.uniform), transformed in double.
    auto draw = [&]() {
      Tensor u = Tensor::empty({N});
      nn::init::uniform(u, gen, 0.0, 1.0);
      std::vector<float> v = u.to_vector<float>();
      for (float& x : v) x = std::max(x, std::numeric_limits<float>::min());
      return v;
    };
    const std::vector<float> u_r = draw(), u_p = draw();
    std::vector<float> nu(static_cast<size_t>(N)), theta(nu), gamma(nu);
    for (size_t n = 0; n < size_t(N); ++n) {
      const double r2 = double(u_r[n]) * (o.r_max * o.r_max - o.r_min * o.r_min) + o.r_min * o.r_min;
      nu[n] = float(std::log(-0.5 * std::log(r2)));
      theta[n] = float(std::log(o.max_phase * double(u_p[n])));
      // γ from the stored (float) ν, as gamma_log_init reads the parameter: |λ|² = exp(−2 exp(ν)).
      const double mod2 = std::exp(-2.0 * std::exp(double(nu[n])));
      gamma[n] = float(std::log(std::sqrt(1.0 - mod2)));
    }
    nu_log_ = register_parameter("nu_log", Tensor::from_vector(nu, {N}), nn::ParamKind::Weight, "ssm");
    theta_log_ = register_parameter("theta_log", Tensor::from_vector(theta, {N}), nn::ParamKind::Weight, "ssm");
    gamma_log_ = register_parameter("gamma_log", Tensor::from_vector(gamma, {N}), nn::ParamKind::Weight, "ssm");
    auto normal = [&](const Shape& shape, double std) {
      Tensor t = Tensor::empty(shape);
      nn::init::normal(t, gen, 0.0, std);
      return t;
    };
    const double b_std = 1.0 / std::sqrt(2.0 * double(H_)), c_std = 1.0 / std::sqrt(double(N));
    B_re_ = register_parameter("B_re", normal({N, H_}, b_std), nn::ParamKind::Weight, "ssm");
    B_im_ = register_parameter("B_im", normal({N, H_}, b_std), nn::ParamKind::Weight, "ssm");
    C_re_ = register_parameter("C_re", normal({H_, N}, c_std));
    C_im_ = register_parameter("C_im", normal({H_, N}, c_std));
    if (bidirectional_) {
      C_re_rev_ = register_parameter("C_re_rev", normal({H_, N}, c_std));
      C_im_rev_ = register_parameter("C_im_rev", normal({H_, N}, c_std));
    }
    D_ = register_parameter("D", normal({H_}, 1.0));
    if (glu_) {
      // out1 stacked over out2 (rows 0..H-1, H..2H-1): glu(y) = out1(y) ⊙ σ(out2(y)).
      out_weight_ = register_parameter("out_weight", normal({2 * H_, H_}, 1.0 / std::sqrt(double(H_))));
      out_bias_ = register_parameter("out_bias", Tensor::zeros({2 * H_}), nn::ParamKind::Bias);
    }
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    check_mixer_input(x, H_, max_len_, "lru");
    const int64_t B = x.dim(0), L = x.dim(1), N = nu_log_.dim(0);
    const Tensor u = mask_padding_ ? zero_padding(x, key_mask) : x;

    // λ = |λ|·(cos φ + i sin φ) with |λ| = exp(−exp(ν_log)), φ = exp(θ_log): [N, 2].
    const Tensor mod = ops::exp_plus(ops::scale(ops::exp_plus(nu_log_), -1.0));
    const Tensor phase = ops::exp_plus(theta_log_);
    const Tensor lambda = ops::reshape(interleave(ops::mul(mod, ops::cosine(phase)), ops::mul(mod, ops::sine(phase))), {N, 2});

    const Tensor Bu = ops::reshape(ops::linear(u, input_weight(B_re_, B_im_, ops::exp_plus(gamma_log_))), {B, L, N, 2});
    const Tensor h = ops::reshape(ops::scan_complex(lambda, Bu), {B, L, 2 * N});
    Tensor y = ops::add(ops::linear(h, output_weight(C_re_, C_im_)), ops::mul(u, D_));
    if (bidirectional_) {
      const Tensor hr = ops::reshape(ops::scan_complex(lambda, Bu, /*reverse=*/true), {B, L, 2 * N});
      y = ops::add(y, ops::linear(hr, output_weight(C_re_rev_, C_im_rev_)));
    }
    if (!glu_) return y;
    y = ops::gelu(y, gelu_tanh_);
    y = ops::dropout(y, dropout_, gen, training(), /*tied_dim=*/1);  // one mask per (b, h), shared along L
    return ops::glu(ops::linear(y, out_weight_, out_bias_), -1);
  }

 private:
  int64_t H_, max_len_;
  double dropout_;
  bool bidirectional_, glu_, gelu_tanh_, mask_padding_;
  Tensor nu_log_, theta_log_, gamma_log_, B_re_, B_im_, C_re_, C_im_, C_re_rev_, C_im_rev_, D_, out_weight_, out_bias_;
};

}  // namespace

LRA_REGISTER_MIXER(lru, LRUOptions, "lru",
                   "LRU: complex diagonal recurrence h_t = λ⊙h_{t−1} + γ⊙B u_t (scan), y = Re(C h) + D⊙u, GELU, GLU",
                   "O(L·N·H)",
                   [](const MixerConfig& c, const LRUOptions& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<LRUMixer>(c, o, g);
                   });

}  // namespace lra::models
