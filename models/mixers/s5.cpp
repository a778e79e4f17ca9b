// s5: S5, one MIMO diagonal state-space model per layer run by a parallel scan (Smith, Warrington,
// Linderman 2023, "Simplified State Space Layers for Sequence Modeling"). Reference code:
// lindermanlab/S5 (3c18fdb) s5/ssm.py (S5SSM, apply_ssm, discretize_zoh/_bilinear), s5/ssm_init.py
// (make_DPLR_HiPPO, init_VinvB, init_CV, trunc_standard_normal, init_log_steps), s5/layers.py
// (SequenceLayer: the activations and dropout), s5/train.py 80-97 (the block-diagonal HiPPO-N init),
// s5/train_helpers.py 128-220 (the optimiser groups).
//
//   u = x [B, L, H] (padded positions are NOT zeroed: S5 masks only its pooling, models-and-recipes §4.9)
//   Λ = clip(Λ_re) + i·Λ_im [P2], Δ = exp(log_step) [P2]   (P2 = P/2 modes with conj_sym, else P)
//   ZOH:      Λ̄ = exp(ΛΔ),                       B̄ = ((Λ̄ − 1)/Λ) ⊙ B̃          (ssm.py discretize_zoh)
//   bilinear: Λ̄ = (1 − ΔΛ/2)⁻¹(1 + ΔΛ/2),        B̄ = (1 − ΔΛ/2)⁻¹ Δ ⊙ B̃   (discretize_bilinear)
//   x_t = Λ̄ ⊙ x_{t−1} + B̄ u_t        (forward scan; bidirectional adds x'_t = Λ̄ ⊙ x'_{t+1} + B̄ u_t, the
//                                     reverse scan over the same Λ̄ and B̄u, current input included)
//   y_t = f·Re(C̃ [x_t; x'_t]) + D ⊙ u_t,   f = 2 with conj_sym (the conjugate half), 1 without
// then S5's activation (layers.py; g = Drop(GELU(y)), Drop tied over time, one mask per (b, h)):
//   gelu: GELU(y);   half_glu1: g ⊙ σ(W g + b);   half_glu2: y ⊙ σ(W g + b);   full_glu: (W1 g + b1) ⊙ σ(W2 g + b2)
// The layer's last Drop and the residual are the backbone's (configs: ffn = 0, tied_dropout = true).
//
// How it is computed: the discretisation is composed from real element-wise ops on [P2] vectors each
// forward (complex numbers as (re, im) pairs), so its gradients reach Λ, log_step and B̃ by autograd.
// B̄ is packed as a real weight [2·P2, H] (rows re, im interleaved) so B̄u is one real GEMM giving the
// interleaved layout of ops::scan_complex; Re(C̃x) is one real GEMM with the weight [H, 2·P2] of
// interleaved (f·C_re, −f·C_im) per direction.
//
// Initialisation (train.py 80-97, ssm.py setup): P split into `blocks` blocks of size b; HiPPO-LegS's
// normal part of size b diagonalised (hippo::nplr_legs: Λ = −½ + iω, V), the same on every block,
// V block-diagonal. B ~ lecun_normal [P_full, H], B̃ = V*·B; C: lecun_normal [H, P_full, 2] or
// trunc_standard_normal (lecun_normal row by row) then C̃ = C·V, or complex_normal (N(0, ½) per part on
// the stored half, no V); D ~ N(0, 1); log_step ~ U(log dt_min, log dt_max) per mode; the GLU Dense layers
// lecun_normal with zero bias (flax defaults). lecun_normal is JAX's: a normal truncated to ±2 std with
// std √(1/fan_in)/0.8796, fan_in = shape[−2]·prod(shape[:−2]).
// Parameter groups (train_helpers.py): Λ_re, Λ_im and log_step are "ssm" (ssm_lr, no weight decay);
// `dt_global` moves log_step to "default"; `opt_config` places B: standard → "ssm", BfastandCdecay →
// "default" (global lr, decayed), BandCdecay → "ssm_decay" (ssm_lr with the global weight decay, as S5's AdamW
// for B). Everything else (C, D, the GLU Dense) is "default".
// Cost: O(B·L·P·H) for the two projections, O(B·L·P) for the scan (×2 bidirectional); memory O(B·L·(P + H)):
// the [B, L, P] states are the largest tensors (never [H, N, L]).
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "models/hippo/hippo.h"
#include "models/layers.h"
#include "models/mixer.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/scan/scan.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {
namespace {

using cdouble = std::complex<double>;

struct S5Options {
  int ssm_size = 256;
  int blocks = 8;
  bool conj_sym = true;
  std::string c_init = "trunc_standard_normal";
  std::string discretization = "zoh";
  double dt_min = 1e-3, dt_max = 1e-1;
  bool clip_eigs = false;
  bool bidirectional = false;
  std::string activation_fn = "half_glu1";
  std::string opt_config = "standard";
  bool dt_global = false;

  void visit(MixerOptions& o) {
    o.integer("ssm_size", ssm_size, "state size P (P/2 complex modes stored with conj_sym)");
    o.integer("blocks", blocks, "J: HiPPO-N blocks on the diagonal of the initial Λ (P/J even)");
    o.flag("conj_sym", conj_sym, "store one mode of each conjugate pair, y = 2 Re(C̃x)");
    o.choice("c_init", c_init, {"trunc_standard_normal", "lecun_normal", "complex_normal"},
             "C initialisation (S5's C_init)");
    o.choice("discretization", discretization, {"zoh", "bilinear"}, "discretisation of (Λ, B̃)");
    o.number("dt_min", dt_min, "smallest initial step size");
    o.number("dt_max", dt_max, "largest initial step size");
    o.flag("clip_eigs", clip_eigs, "clamp Re Λ <= -1e-4");
    o.flag("bidirectional", bidirectional, "add the reverse scan with its own C");
    o.choice("activation_fn", activation_fn, {"half_glu1", "half_glu2", "full_glu", "gelu"},
             "S5's activation after the SSM");
    o.choice("opt_config", opt_config, {"standard", "BandCdecay", "BfastandCdecay"},
             "B's parameter group: ssm (standard), ssm_decay (BandCdecay: ssm lr, decayed) or default (BfastandCdecay)");
    o.flag("dt_global", dt_global, "log_step in the default group instead of ssm");
  }
};

// JAX's truncated normal (±2 standard deviations) scaled as variance_scaling does: std/0.8796... keeps
// the variance at std² after truncation. Rejection sampling from the generator's normal stream.
std::vector<double> truncated_normal(int64_t n, double stddev, Generator& gen) {
  constexpr double kTruncStd = 0.87962566103423978;  // std of N(0, 1) truncated to [−2, 2]
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double z;
    do {
      z = philox_normal(gen.seed(), gen.reserve(normal_counters(1)), 0);
    } while (std::fabs(z) > 2.0);
    out[size_t(i)] = z * stddev / kTruncStd;
  }
  return out;
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// (re, im) of a [..., 2] tensor as two tensors of the leading shape.
std::pair<Tensor, Tensor> parts(const Tensor& z) {
  const std::vector<int64_t> dims = z.shape().vec();
  const std::vector<int64_t> lead(dims.begin(), dims.end() - 1);
  return {ops::reshape(ops::slice(z, -1, 0, 1), lead), ops::reshape(ops::slice(z, -1, 1, 2), lead)};
}

// Real weight [rows, 2·M] of y = f·Re(C̃x) for C̃ stored as C [rows, M, 2] and x interleaved [..., 2·M]:
// each (re, im) pair of C becomes (f·C_re, −f·C_im).
Tensor output_weight(const Tensor& C, double f) {
  Tensor w = ops::concat({ops::scale(ops::slice(C, 2, 0, 1), f), ops::scale(ops::slice(C, 2, 1, 2), -f)}, 2);
  return ops::reshape(w, {C.dim(0), 2 * C.dim(1)});
}

class S5Mixer : public Mixer {
 public:
  S5Mixer(const MixerConfig& c, const S5Options& o, Generator& gen)
      : H_(c.width), max_len_(c.max_len), dropout_(c.dropout), conj_sym_(o.conj_sym),
        bilinear_(o.discretization == "bilinear"), clip_eigs_(o.clip_eigs), bidirectional_(o.bidirectional),
        activation_(o.activation_fn) {
    const int P = o.ssm_size, J = o.blocks;
    LRA_CHECK(J >= 1 && P >= 1 && P % J == 0, "s5: ssm_size ", P, " must be a positive multiple of blocks ", J);
    const int b = P / J;  // block size of the full (unhalved) state
    LRA_CHECK(b >= 2 && b % 2 == 0, "s5: the block size ssm_size/blocks = ", P, "/", J, " = ", b,
              " must be even and >= 2 (HiPPO-N's modes come in conjugate pairs)");
    LRA_CHECK(0 < o.dt_min && o.dt_min <= o.dt_max, "s5: need 0 < dt_min <= dt_max, got ", o.dt_min, " and ",
              o.dt_max);
    const int bh = conj_sym_ ? b / 2 : b;  // modes kept per block
    P2_ = int64_t(bh) * J;

    // Eigen-decomposition of one block (train.py 80-97): keep the first b/2 eigenpairs (ω ascending, ≤ 0),
    // or all b of them; eigh's ascending order puts the conjugates (−ω, conj V) second, in reverse.
    const hippo::NPLR nplr = hippo::nplr_legs(b);
    std::vector<cdouble> lam(static_cast<size_t>(bh)), V(static_cast<size_t>(b) * bh);  // V [b, bh]
    for (int m = 0; m < bh; ++m) {
      const bool conj = m >= b / 2;
      const int src = conj ? b - 1 - m : m;
      lam[size_t(m)] = conj ? std::conj(nplr.Lambda[size_t(src)]) : nplr.Lambda[size_t(src)];
      for (int n = 0; n < b; ++n) {
        cdouble v = nplr.V[size_t(n) * (b / 2) + src];
        V[size_t(n) * bh + m] = conj ? std::conj(v) : v;
      }
    }
    std::vector<float> lre(static_cast<size_t>(P2_)), lim(static_cast<size_t>(P2_));
    for (int64_t p = 0; p < P2_; ++p) {
      lre[size_t(p)] = float(lam[size_t(p % bh)].real());
      lim[size_t(p)] = float(lam[size_t(p % bh)].imag());
    }
    Lambda_re_ = register_parameter("Lambda_re", Tensor::from_vector(lre, {P2_}), nn::ParamKind::Weight, "ssm");
    Lambda_im_ = register_parameter("Lambda_im", Tensor::from_vector(lim, {P2_}), nn::ParamKind::Weight, "ssm");

    // B̃ = V*·B with B ~ lecun_normal [P_full, H] (fan_in P_full), per block (ssm_init.py init_VinvB).
    const int64_t P_full = int64_t(b) * J;
    std::vector<double> Bs = truncated_normal(P_full * H_, 1.0 / std::sqrt(double(P_full)), gen);
    std::vector<float> Bt(static_cast<size_t>(P2_ * H_ * 2));
    for (int j = 0; j < J; ++j)
      for (int m = 0; m < bh; ++m)
        for (int64_t h = 0; h < H_; ++h) {
          cdouble acc = 0;
          for (int n = 0; n < b; ++n) acc += std::conj(V[size_t(n) * bh + m]) * Bs[size_t((int64_t(j) * b + n) * H_ + h)];
          const size_t at = size_t(((int64_t(j) * bh + m) * H_ + h) * 2);
          Bt[at] = float(acc.real());
          Bt[at + 1] = float(acc.imag());
        }
    const std::string b_group = o.opt_config == "BfastandCdecay" ? "default"
                                : o.opt_config == "BandCdecay"   ? "ssm_decay"
                                                                 : "ssm";
    B_ = register_parameter("B", Tensor::from_vector(Bt, {P2_, H_, 2}), nn::ParamKind::Weight, b_group);

    // C̃ (ssm.py setup, ssm_init.py init_CV / trunc_standard_normal).
    auto sample_CV = [&]() {
      std::vector<double> Cs;
      if (o.c_init == "lecun_normal") {
        Cs = truncated_normal(H_ * P_full * 2, 1.0 / std::sqrt(double(H_ * P_full)), gen);
      } else {  // trunc_standard_normal: lecun_normal on [1, P_full, 2] per row
        for (int64_t h = 0; h < H_; ++h) {
          std::vector<double> row = truncated_normal(P_full * 2, 1.0 / std::sqrt(double(P_full)), gen);
          Cs.insert(Cs.end(), row.begin(), row.end());
        }
      }
      std::vector<float> Ct(static_cast<size_t>(H_ * P2_ * 2));
      for (int64_t h = 0; h < H_; ++h)
        for (int j = 0; j < J; ++j)
          for (int m = 0; m < bh; ++m) {
            cdouble acc = 0;
            for (int n = 0; n < b; ++n) {
              const size_t at = size_t((h * P_full + int64_t(j) * b + n) * 2);
              acc += cdouble(Cs[at], Cs[at + 1]) * V[size_t(n) * bh + m];
            }
            const size_t at = size_t((h * P2_ + int64_t(j) * bh + m) * 2);
            Ct[at] = float(acc.real());
            Ct[at + 1] = float(acc.imag());
          }
      return Tensor::from_vector(Ct, {H_, P2_, 2});
    };
    if (o.c_init == "complex_normal") {
      Tensor C = Tensor::empty({H_, (bidirectional_ ? 2 : 1) * P2_, 2});
      nn::init::normal(C, gen, 0.0, std::sqrt(0.5));
      C_ = register_parameter("C", C);
    } else if (bidirectional_) {
      C_ = register_parameter("C1", sample_CV());
      C2_ = register_parameter("C2", sample_CV());
    } else {
      C_ = register_parameter("C", sample_CV());
    }
    Tensor D = Tensor::empty({H_});
    nn::init::normal(D, gen, 0.0, 1.0);
    D_ = register_parameter("D", D);

    // log_step [P2] (S5 stores [P2, 1]): one uniform draw per mode.
    Tensor log_step = Tensor::empty({P2_});
    nn::init::uniform(log_step, gen, std::log(o.dt_min), std::log(o.dt_max));
    log_step_ = register_parameter("log_step", log_step, nn::ParamKind::Weight, o.dt_global ? "default" : "ssm");

    // The GLU Dense layers (flax nn.Dense: lecun_normal kernel, zero bias), weights [out, in].
    auto dense = [&](const std::string& name, Tensor& w, Tensor& bias) {
      w = register_parameter(name + "_weight",
                             Tensor::from_vector(to_float(truncated_normal(H_ * H_, 1.0 / std::sqrt(double(H_)), gen)),
                                                 {H_, H_}));
      bias = register_parameter(name + "_bias", Tensor::zeros({H_}), nn::ParamKind::Bias);
    };
    if (activation_ == "full_glu") dense("out1", out1_weight_, out1_bias_);
    if (activation_ != "gelu") dense("out2", out2_weight_, out2_bias_);
  }

  Tensor forward(const Tensor& x, const Tensor& /*key_mask: S5 does not mask inside a layer*/, Generator& gen) override {
    check_mixer_input(x, H_, max_len_, "s5");
    const int64_t Bn = x.dim(0), L = x.dim(1);
    const Tensor one = Tensor::ones({1}, x.dtype(), x.device());

    // Discretisation on [P2] vectors (complex as (re, im) pairs).
    Tensor lre = Lambda_re_, lim = Lambda_im_;
    if (clip_eigs_) {  // min(Λ_re, −1e-4) = −1e-4 − relu(−1e-4 − Λ_re): jnp.clip's gradient
      const Tensor cap = Tensor::full({1}, -1e-4, x.dtype(), x.device());
      lre = ops::sub(cap, ops::relu(ops::sub(cap, lre)));
    }
    const Tensor dt = ops::exp_plus(log_step_);
    Tensor bar_re, bar_im, coef_re, coef_im;
    if (!bilinear_) {
      const Tensor mag = ops::exp_plus(ops::mul(lre, dt)), phase = ops::mul(lim, dt);
      bar_re = ops::mul(mag, ops::cosine(phase));
      bar_im = ops::mul(mag, ops::sine(phase));
      // (Λ̄ − 1)/Λ = (Λ̄ − 1)·conj(Λ)/|Λ|²
      const Tensor nre = ops::sub(bar_re, one);
      const Tensor den = ops::add(ops::mul(lre, lre), ops::mul(lim, lim));
      coef_re = ops::div(ops::add(ops::mul(nre, lre), ops::mul(bar_im, lim)), den);
      coef_im = ops::div(ops::sub(ops::mul(bar_im, lre), ops::mul(nre, lim)), den);
    } else {
      // BL = 1/(1 − a), a = ΔΛ/2: BL = conj(1 − a)/|1 − a|²; Λ̄ = BL·(1 + a); coefficient BL·Δ.
      const Tensor half_dt = ops::scale(dt, 0.5);
      const Tensor are = ops::mul(lre, half_dt), aim = ops::mul(lim, half_dt);
      const Tensor dre = ops::sub(one, are);  // 1 − a = (dre, −aim)
      const Tensor den = ops::add(ops::mul(dre, dre), ops::mul(aim, aim));
      const Tensor blre = ops::div(dre, den), blim = ops::div(aim, den);
      const Tensor pre = ops::add(one, are);  // 1 + a = (pre, aim)
      bar_re = ops::sub(ops::mul(blre, pre), ops::mul(blim, aim));
      bar_im = ops::add(ops::mul(blre, aim), ops::mul(blim, pre));
      coef_re = ops::mul(blre, dt);
      coef_im = ops::mul(blim, dt);
    }
    const Tensor lambda_bar = ops::concat({ops::reshape(bar_re, {P2_, 1}), ops::reshape(bar_im, {P2_, 1})}, 1);

    // B̄ = coef ⊙ B̃, packed as the real weight [2·P2, H] with rows (re, im) interleaved.
    auto [bre, bim] = parts(B_);  // [P2, H]
    const Tensor cre = ops::reshape(coef_re, {P2_, 1}), cim = ops::reshape(coef_im, {P2_, 1});
    const Tensor wre = ops::sub(ops::mul(cre, bre), ops::mul(cim, bim));
    const Tensor wim = ops::add(ops::mul(cre, bim), ops::mul(cim, bre));
    const Tensor WB = ops::reshape(ops::concat({ops::reshape(wre, {P2_, 1, H_}), ops::reshape(wim, {P2_, 1, H_})}, 1),
                                   {2 * P2_, H_});

    const Tensor bu = ops::reshape(ops::linear(x, WB), {Bn, L, P2_, 2});
    const double f = conj_sym_ ? 2.0 : 1.0;
    Tensor W1, W2;
    if (C2_.defined()) {
      W1 = output_weight(C_, f);
      W2 = output_weight(C2_, f);
    } else if (bidirectional_) {  // complex_normal: one C [H, 2·P2, 2], forward half first (ssm.py)
      const Tensor W = output_weight(C_, f);
      W1 = ops::slice(W, 1, 0, 2 * P2_);
      W2 = ops::slice(W, 1, 2 * P2_, 4 * P2_);
    } else {
      W1 = output_weight(C_, f);
    }
    Tensor y = ops::linear(ops::reshape(ops::scan_complex(lambda_bar, bu), {Bn, L, 2 * P2_}), W1);
    if (bidirectional_)
      y = ops::add(y, ops::linear(ops::reshape(ops::scan_complex(lambda_bar, bu, /*reverse=*/true), {Bn, L, 2 * P2_}), W2));
    y = ops::add(y, ops::mul(x, D_));

    // S5's activation (layers.py). The layer's last dropout is the backbone's residual dropout, which for
    // `gelu` is the only one (layers.py drops GELU(y) once there).
    if (activation_ == "gelu") return ops::gelu(y);
    const Tensor g = ops::dropout(ops::gelu(y), dropout_, gen, training(), /*tied_dim=*/1);
    const Tensor gate = ops::sigmoid(ops::linear(g, out2_weight_, out2_bias_));
    if (activation_ == "half_glu1") return ops::mul(g, gate);
    if (activation_ == "half_glu2") return ops::mul(y, gate);
    return ops::mul(ops::linear(g, out1_weight_, out1_bias_), gate);  // full_glu
  }

 private:
  int64_t H_, max_len_, P2_ = 0;
  double dropout_;
  bool conj_sym_, bilinear_, clip_eigs_, bidirectional_;
  std::string activation_;
  Tensor Lambda_re_, Lambda_im_, B_, C_, C2_, D_, log_step_;
  Tensor out1_weight_, out1_bias_, out2_weight_, out2_bias_;
};

}  // namespace

LRA_REGISTER_MIXER(s5, S5Options, "s5",
                   "S5: one MIMO diagonal SSM (HiPPO-N blocks, ZOH), complex scan, 2·Re(C̃x) + D·u, GELU/GLU",
                   "O(B·L·P·H + B·L·P)",
                   [](const MixerConfig& c, const S5Options& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<S5Mixer>(c, o, g);
                   });

}  // namespace lra::models
