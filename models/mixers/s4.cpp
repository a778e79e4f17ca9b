// s4: S4, the structured state-space layer with a diagonal-plus-low-rank (DPLR/NPLR) state matrix (Gu, Goel,
// Ré 2022, "Efficiently Modeling Long Sequences with Structured State Spaces"). Reference code: state-spaces/s4
// src/models/sequence/kernels/ssm.py (SSMKernelDPLR), src/models/hippo/hippo.py (nplr), fftconv.py (FFTConv),
// src/models/sequence/modules/s4block.py (S4Block), configs/model/layer/s4.yaml (defaults).
//
//   u = x [B, L, H] (padded positions zeroed) → [B, H, L]
//   A = diag(Λ) − P·Pᴴ over N/2 complex modes (and their conjugates), per SSM copy s = h mod n_ssm;
//   dt[h] = softplus(inv_dt[h]) (or exp); discretised by the bilinear transform, always
//   k̂ = the DPLR response at the n = max_len roots of unity (ops::dplr_response: Cauchy sums + rank-1
//       Woodbury + 2/(1+ω), never [H, N, n]);  K = irfft(k̂, n)[:L]  (ops::irfft)   → [Cc, H, L]
//   y = FFTConv: K[0] causal, K[1] anti-causal from lag −1 (bidirectional; both share Λ, P, B, dt, only C
//       differs), + D ⊙ u                                                  (ops::fftconv)
//   y = Dropout(y) (FFTConv's own, untied) → GELU → Dropout (tied per (b, h), S4Block's) → GLU(Linear_H→2H)
// The kernel is computed at the attuned length n = max_len and truncated to the input's L (ssm.py 797–880,
// fftconv.py 92: l_kernel = min(L, l_max)); C̃ = C·(I − Ā^n) is computed once at construction (s4.h) and is
// the trained parameter, as the reference's in-place `_setup_C` on the first forward.
//
// Initialisation (init legs, rank 1): Λ, P̃ = V*P, B̃ = V*B from hippo::nplr_legs(N); stored as
// log_A_real = log(−Re Λ) = log ½ and A_imag = max(−Im Λ, 1e-4) (inv_transform's clamp), B with its imaginary
// part clipped to [−2, 2] (hippo.py B_clip); all n_ssm copies equal. dt log-uniform in [dt_min, dt_max],
// stored through the inverse transform. C ~ CN(0, 1) [Cc, H, N/2]; D ~ N(0, 1) [H]; the output Linear with
// PyTorch's default U(±1/√H).
// Parameter groups: log_A_real, A_imag, B and P in "ssm" (their own lr, no weight decay; P with A's lr and
// wd 0, ssm.py 775); inv_dt in dt_group (default: global lr, undecayed); C in c_group ("ssm_decay": the ssm lr with the usual weight
// decay, as a scalar layer lr gives C in the reference).
// Cost: kernel O(H·N·L) time and O(H·(N + L)) memory; convolution O(B·H·L log L); output Linear O(B·L·H²);
// construction O(H·N³·log L) (the dense C̃ correction, once).
#include "models/mixers/s4.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "models/hippo/hippo.h"
#include "models/layers.h"
#include "models/mixer.h"
#include "ops/cauchy/cauchy.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/fftconv.h"
#include "ops/fftconv/irfft.h"
#include "ops/matmul/matmul.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {

namespace s4 {

namespace {

using Matrix = std::vector<cdouble>;  // square, row-major

Matrix matmul(const Matrix& a, const Matrix& b, int64_t n) {
  Matrix c(static_cast<size_t>(n * n), cdouble(0));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      const cdouble aik = a[size_t(i * n + k)];
      if (aik == cdouble(0)) continue;
      for (int64_t j = 0; j < n; ++j) c[size_t(i * n + j)] += aik * b[size_t(k * n + j)];
    }
  return c;
}

// X = A⁻¹·B by Gaussian elimination with partial pivoting (A is I − dt/2·A₂: well conditioned, Re Λ < 0).
Matrix solve(Matrix a, Matrix b, int64_t n) {
  for (int64_t col = 0; col < n; ++col) {
    int64_t piv = col;
    for (int64_t r = col + 1; r < n; ++r)
      if (std::abs(a[size_t(r * n + col)]) > std::abs(a[size_t(piv * n + col)])) piv = r;
    if (piv != col)
      for (int64_t j = 0; j < n; ++j) {
        std::swap(a[size_t(col * n + j)], a[size_t(piv * n + j)]);
        std::swap(b[size_t(col * n + j)], b[size_t(piv * n + j)]);
      }
    const cdouble inv = 1.0 / a[size_t(col * n + col)];
    for (int64_t r = 0; r < n; ++r) {
      if (r == col) continue;
      const cdouble f = a[size_t(r * n + col)] * inv;
      if (f == cdouble(0)) continue;
      for (int64_t j = 0; j < n; ++j) {
        a[size_t(r * n + j)] -= f * a[size_t(col * n + j)];
        b[size_t(r * n + j)] -= f * b[size_t(col * n + j)];
      }
    }
  }
  for (int64_t r = 0; r < n; ++r) {
    const cdouble inv = 1.0 / a[size_t(r * n + r)];
    for (int64_t j = 0; j < n; ++j) b[size_t(r * n + j)] *= inv;
  }
  return b;
}

}  // namespace

std::vector<cdouble> bilinear_transition(int64_t M, double dt, const cdouble* lambda, const cdouble* P) {
  const int64_t n = 2 * M;
  std::vector<cdouble> lam2(static_cast<size_t>(n)), p2(static_cast<size_t>(n));
  for (int64_t m = 0; m < M; ++m) {
    lam2[size_t(m)] = lambda[m];
    lam2[size_t(M + m)] = std::conj(lambda[m]);
    p2[size_t(m)] = P[m];
    p2[size_t(M + m)] = std::conj(P[m]);
  }
  Matrix left(static_cast<size_t>(n * n)), right(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const cdouble a = (i == j ? lam2[size_t(i)] : cdouble(0)) - p2[size_t(i)] * std::conj(p2[size_t(j)]);
      const double id = i == j ? 1.0 : 0.0;
      left[size_t(i * n + j)] = id - dt / 2 * a;
      right[size_t(i * n + j)] = id + dt / 2 * a;
    }
  return solve(left, right, n);
}

void setup_C(int64_t Cc, int64_t H, int64_t S, int64_t M, const std::vector<double>& dt,
             const std::vector<cdouble>& lambda, const std::vector<cdouble>& P, std::vector<cdouble>& C, int64_t L) {
  const int64_t n = 2 * M;
#pragma omp parallel for schedule(dynamic)
  for (int64_t h = 0; h < H; ++h) {
    const int64_t s = h % S;
    const Matrix a = bilinear_transition(M, dt[size_t(h)], lambda.data() + s * M, P.data() + s * M);
    // Ā^L by repeated squaring.
    Matrix power(static_cast<size_t>(n * n), cdouble(0)), base = a;
    for (int64_t i = 0; i < n; ++i) power[size_t(i * n + i)] = 1.0;
    for (int64_t e = L; e > 0; e >>= 1) {
      if (e & 1) power = matmul(power, base, n);
      if (e > 1) base = matmul(base, base, n);
    }
    for (int64_t c = 0; c < Cc; ++c) {
      cdouble* row = C.data() + (c * H + h) * M;
      std::vector<cdouble> c2(static_cast<size_t>(n));
      for (int64_t m = 0; m < M; ++m) {
        c2[size_t(m)] = row[m];
        c2[size_t(M + m)] = std::conj(row[m]);
      }
      for (int64_t m = 0; m < M; ++m) {
        cdouble prod = 0;
        for (int64_t k = 0; k < n; ++k) prod += c2[size_t(k)] * power[size_t(k * n + m)];
        row[m] = c2[size_t(m)] - prod;
      }
    }
  }
}

}  // namespace s4

namespace {

struct S4Options {
  int ssm_n = 64;
  int n_ssm = 1;
  double dt_min = 1e-3, dt_max = 1e-1;
  std::string dt_transform = "softplus";
  bool bidirectional = false;
  std::string dt_group = "ssm";
  std::string c_group = "default";

  void visit(MixerOptions& o) {
    o.integer("ssm_n", ssm_n, "state size N (even: N/2 complex modes and their conjugates)");
    o.integer("n_ssm", n_ssm, "independent (A, P, B) copies, dividing the width; 0 = one per channel");
    o.number("dt_min", dt_min, "smallest initial step size");
    o.number("dt_max", dt_max, "largest initial step size");
    o.choice("dt_transform", dt_transform, {"softplus", "exp"}, "dt = transform(inv_dt)");
    o.flag("bidirectional", bidirectional, "add an anti-causal kernel (a second C; Λ, P, B, dt shared)");
    o.choice("dt_group", dt_group, {"ssm", "default"}, "parameter group of inv_dt (default: the global lr, undecayed)");
    o.choice("c_group", c_group, {"default", "ssm", "ssm_decay"},
             "parameter group of C (ssm: ssm lr, no decay; ssm_decay: ssm lr with weight decay)");
  }
};

double softplus_inverse(double y) { return std::log(std::expm1(y)); }

class S4Mixer : public Mixer {
 public:
  S4Mixer(const MixerConfig& c, const S4Options& o, Generator& gen)
      : H_(c.width), max_len_(c.max_len), dropout_(c.dropout), bidirectional_(o.bidirectional),
        softplus_(o.dt_transform == "softplus") {
    const int N = o.ssm_n;
    LRA_CHECK(N >= 2 && N % 2 == 0, "s4: ssm_n (the state size N) must be even and >= 2 (N/2 complex modes are ",
              "stored with their conjugates), got ", N);
    const int64_t M = N / 2;
    const int64_t S = o.n_ssm == 0 ? H_ : o.n_ssm;
    LRA_CHECK(S >= 1 && H_ % S == 0, "s4: n_ssm = ", o.n_ssm, " must divide the width ", H_,
              " (0 means one copy per channel)");
    LRA_CHECK(0 < o.dt_min && o.dt_min <= o.dt_max, "s4: need 0 < dt_min <= dt_max, got ", o.dt_min, " and ",
              o.dt_max);
    const int64_t Cc = bidirectional_ ? 2 : 1;

    // dt: log-uniform, stored through the inverse transform (ssm.py init_dt; inv_transform clamps at 1e-4).
    Tensor inv_dt = Tensor::empty({H_});
    nn::init::uniform(inv_dt, gen, std::log(o.dt_min), std::log(o.dt_max));
    for (int64_t h = 0; h < H_; ++h) {
      float& v = inv_dt.data<float>()[h];
      v = softplus_ ? float(softplus_inverse(std::max(std::exp(double(v)), 1e-4))) : v;
    }
    // (Λ, P, B) from HiPPO-LegS, the same for every copy (dplr.py combination / hippo.py nplr).
    const hippo::NPLR nplr = hippo::nplr_legs(N);
    const size_t sm = static_cast<size_t>(S * M);
    std::vector<float> a_re(sm), a_im(sm), p(2 * sm), b(2 * sm);
    for (int64_t s = 0; s < S; ++s)
      for (int64_t m = 0; m < M; ++m) {
        const size_t i = size_t(s * M + m);
        const hippo::cdouble lam = nplr.Lambda[size_t(m)], pm = nplr.P[size_t(m)], bm = nplr.B[size_t(m)];
        a_re[i] = float(std::log(std::max(-lam.real(), 1e-4)));
        a_im[i] = float(std::max(-lam.imag(), 1e-4));
        p[2 * i] = float(pm.real());
        p[2 * i + 1] = float(pm.imag());
        b[2 * i] = float(bm.real());
        b[2 * i + 1] = float(std::clamp(bm.imag(), -2.0, 2.0));
      }
    // dt_group = default: the global lr, registered with kind Bias so the optimizer leaves it undecayed (S4
    // gives dt wd 0 and `lr: null`, kernel.py 82-94), as the s4d mixer does.
    inv_dt_ = register_parameter("inv_dt", inv_dt, o.dt_group == "ssm" ? nn::ParamKind::Weight : nn::ParamKind::Bias,
                                 o.dt_group);
    log_A_real_ = register_parameter("log_A_real", Tensor::from_vector(a_re, {S, M}), nn::ParamKind::Weight, "ssm");
    A_imag_ = register_parameter("A_imag", Tensor::from_vector(a_im, {S, M}), nn::ParamKind::Weight, "ssm");
    P_ = register_parameter("P", Tensor::from_vector(p, {S, M, 2}), nn::ParamKind::Weight, "ssm");
    B_ = register_parameter("B", Tensor::from_vector(b, {S, M, 2}), nn::ParamKind::Weight, "ssm");

    // C ~ CN(0, 1), then C̃ = C·(I − Ā^n) at n = max_len, from the stored (float) parameters, in double.
    Tensor C = Tensor::empty({Cc, H_, M, 2});
    nn::init::normal(C, gen, 0.0, std::sqrt(0.5));
    {
      std::vector<double> dt(static_cast<size_t>(H_));
      for (int64_t h = 0; h < H_; ++h) {
        const double v = inv_dt.data<float>()[h];
        dt[size_t(h)] = softplus_ ? std::log1p(std::exp(v)) : std::exp(v);
      }
      std::vector<s4::cdouble> lam(sm), pc(sm), cc(static_cast<size_t>(Cc * H_ * M));
      for (size_t i = 0; i < lam.size(); ++i) {
        lam[i] = {-std::exp(double(a_re[i])), -double(a_im[i])};
        pc[i] = {double(p[2 * i]), double(p[2 * i + 1])};
      }
      float* cd = C.data<float>();
      for (size_t i = 0; i < cc.size(); ++i) cc[i] = {double(cd[2 * i]), double(cd[2 * i + 1])};
      s4::setup_C(Cc, H_, S, M, dt, lam, pc, cc, max_len_);
      for (size_t i = 0; i < cc.size(); ++i) {
        cd[2 * i] = float(cc[i].real());
        cd[2 * i + 1] = float(cc[i].imag());
      }
    }
    C_ = register_parameter("C", C, nn::ParamKind::Weight, o.c_group);
    Tensor D = Tensor::empty({H_});
    nn::init::normal(D, gen, 0.0, 1.0);
    D_ = register_parameter("D", D);
    out_weight_ = register_parameter("out_weight", torch_default_init({2 * H_, H_}, H_, gen));
    out_bias_ = register_parameter("out_bias", torch_default_init({2 * H_}, H_, gen), nn::ParamKind::Bias);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    check_mixer_input(x, H_, max_len_, "s4");
    const int64_t L = x.dim(1);
    Tensor u = ops::transpose(zero_padding(x, key_mask), 1, 2);  // [B, H, L]
    Tensor K = kernel(L);
    Tensor kc = ops::reshape(ops::slice(K, 0, 0, 1), {H_, L});
    Tensor ka = bidirectional_ ? ops::reshape(ops::slice(K, 0, 1, 2), {H_, L}) : Tensor();
    ops::FFTConvOptions opts;
    opts.anti = bidirectional_ ? ops::AntiCausal::FromLag1 : ops::AntiCausal::None;
    Tensor y = ops::fftconv(u, kc, ka, D_, opts);
    y = ops::dropout(y, dropout_, gen, training());  // FFTConv's nn.Dropout (untied; fftconv.py 78–79, 136)
    y = ops::gelu(y);
    y = ops::dropout(y, dropout_, gen, training(), /*tied_dim=*/2);  // S4Block's DropoutNd, per (b, h)
    y = ops::linear(ops::transpose(y, 1, 2), out_weight_, out_bias_);  // [B, L, 2H]
    return ops::glu(y, -1);
  }

  std::vector<MixerKernel> materialized_kernels(int64_t L) override {
    autograd::NoGrad no_grad;
    Tensor K = kernel(L);
    std::vector<MixerKernel> out{mixer_kernel("causal", false, 0, ops::reshape(ops::slice(K, 0, 0, 1), {H_, L}))};
    if (bidirectional_)
      out.push_back(mixer_kernel("anti-causal", true, 1, ops::reshape(ops::slice(K, 0, 1, 2), {H_, L})));
    return out;
  }

 private:
  // The kernels [Cc, H, L] forward() convolves with: computed at n = max_len, truncated to L (<= max_len).
  Tensor kernel(int64_t L) {
    Tensor dt = softplus_ ? ops::softplus(inv_dt_) : ops::exp_plus(inv_dt_);
    Tensor khat = ops::dplr_response(dt, log_A_real_, A_imag_, P_, B_, C_, max_len_);  // [Cc, H, n/2+1, 2]
    return ops::irfft(khat, max_len_, L);
  }

  int64_t H_, max_len_;
  double dropout_;
  bool bidirectional_, softplus_;
  Tensor inv_dt_, log_A_real_, A_imag_, P_, B_, C_, D_, out_weight_, out_bias_;
};

}  // namespace

LRA_REGISTER_MIXER(s4, S4Options, "s4",
                   "S4: DPLR (HiPPO-LegS NPLR) SSM kernel by Cauchy sums + Woodbury at l_max roots of unity, "
                   "irfft, FFT long conv, GELU, GLU",
                   "O(H·N·L + H·L log L)",
                   [](const MixerConfig& c, const S4Options& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<S4Mixer>(c, o, g);
                   });

}  // namespace lra::models
