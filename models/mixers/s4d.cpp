// s4d: S4D, the diagonal state-space layer (Gu, Gupta, Goel, Ré 2022). Reference code: state-spaces/s4,
// models/s4/s4d.py (the minimal S4D layer: this mixer's defaults) and src/models/sequence/kernels/ssm.py
// (SSMKernelDiag, whose options init, dt_transform, n_ssm, disc and the lr groups are exposed here, with
// dplr.py and src/models/hippo/hippo.py for the initialisations).
//
//   u = x [B, L, H] (H = D, padded positions zeroed) → [B, H, L]
//   dt_h = exp(log_dt[h]) or softplus(inv_dt[h]) (dt_transform); N/2 complex modes per channel
//   K[h, l] = 2·Re Σ_n C̃[h, n] · exp(e[h, n] · l)   (ops::ssm_kernel, never materialising [H, N, L]):
//             ZOH: e = dt·A, C̃ = B·C·(exp(dt·A) − 1)/A;  bilinear: exp(e) = (1 + dt·A/2)/(1 − dt·A/2),
//             C̃ = B·C·dt/(1 − dt·A/2). A and B of channel h are copy h mod n_ssm (n_ssm = 0: one per channel)
//   y = GELU(K * u + D ⊙ u)  (ops::fftconv; bidirectional: a second C gives the anti-causal kernel, S4's
//             convention: lag −1 onward, sharing A, B and dt)
//   y = Dropout(y) with one mask per (b, h) (S4's DropoutNd), then GLU(Linear_H→2H(y)) → [B, L, H]
//
// Initialisation: dt log-uniform in [dt_min, dt_max] (softplus: stored as log(exp(dt) − 1), dt clamped at
// >= 1e-4 first as ssm.py's inv_transform does). A = −1/2 + iπn (S4D-Lin), −1/2 + i(N/π)(N/(1+2n) − 1)
// (S4D-Inv), the N/2 HiPPO-LegS normal-part eigenvalues (S4D-LegS, models/hippo: Λ = −½ + iω, ω ≤ 0) or
// −(n+1) (S4D-Real), stored as log_A_real = log(−Re A) and A_imag; B = 1, except S4D-LegS: B = V*·B_LegS
// with only its imaginary part clipped to [−2, 2] (hippo.py nplr, B_clip = 2; S4D-LegS ignores P).
// The engine's sign is Im A = +A_imag, S4's −A_imag (ops/ssmkernel/ssmkernel.h): the stored A_imag equal
// S4's (for legs and real clamped at >= 1e-4 as inv_transform does; lin keeps its n = 0 mode at 0, as
// before), and B is stored conjugated, so K is the same real kernel. C ~ CN(0, 1) (real and imaginary
// parts of variance 1/2); D ~ N(0, 1); the output Linear with PyTorch's default U(±1/√H).
// Parameter groups: the dt parameter, log_A_real, A_imag and B are in group "ssm" (their own lr, no weight
// decay); dt_group = default moves dt to the global lr, still undecayed (S4's ListOps/IMDB/AAN configs,
// lr: {dt: null, A: 0.001, B: 0.001} with the layer's wd 0: kind Bias, the kind the optimizer leaves
// undecayed unless decay_all, which no s4d file sets); C in c_group (ssm_decay: the ssm lr with the usual
// weight decay, as S4's scalar layer lr gives C).
// Cost: O(H·N·L) for the kernel, O(B·H·L log L) for the convolution, O(B·L·H²) for the output Linear.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "models/hippo/hippo.h"
#include "models/layers.h"
#include "models/mixer.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/fftconv.h"
#include "ops/matmul/matmul.h"
#include "ops/shape/shape_ops.h"
#include "ops/ssmkernel/ssmkernel.h"

namespace lra::models {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct S4DOptions {
  int ssm_n = 64;
  std::string init = "lin";
  double dt_min = 1e-3, dt_max = 1e-1;
  std::string dt_transform = "exp";
  int n_ssm = 0;
  std::string dt_group = "ssm";
  std::string disc = "zoh";
  bool bidirectional = false;
  std::string c_group = "default";

  void visit(MixerOptions& o) {
    o.integer("ssm_n", ssm_n, "state size N (even: N/2 complex modes per channel)");
    o.choice("init", init, {"lin", "inv", "legs", "real"},
             "A (and B) initialisation: S4D-Lin, S4D-Inv, S4D-LegS (HiPPO-LegS normal part) or S4D-Real");
    o.number("dt_min", dt_min, "smallest initial step size");
    o.number("dt_max", dt_max, "largest initial step size");
    o.choice("dt_transform", dt_transform, {"exp", "softplus"},
             "dt = exp(log_dt) (S4D's minimal layer) or softplus(inv_dt) (S4's layer default)");
    o.integer("n_ssm", n_ssm, "trained (A, B) copies, channel h uses copy h mod n_ssm; 0 = one per channel");
    o.choice("dt_group", dt_group, {"ssm", "default"},
             "dt in the ssm group (ssm_lr) or at the global lr (S4's lr.dt null), undecayed unless decay_all");
    o.choice("disc", disc, {"zoh", "bilinear"}, "discretisation: zero-order hold or bilinear");
    o.flag("bidirectional", bidirectional, "add an anti-causal kernel (a second C)");
    o.choice("c_group", c_group, {"default", "ssm", "ssm_decay"},
             "parameter group of C (ssm: ssm lr, no decay; ssm_decay: ssm lr with weight decay)");
  }
};

// The initial A = −exp(log_A_real) + i·A_imag and B (engine sign) of one (A, B) copy: M = N/2 modes.
struct DiagInit {
  std::vector<float> log_a_re, a_im, b;  // [M], [M], [M, 2]
};

DiagInit diag_init(const std::string& init, int N) {
  const int M = N / 2;
  DiagInit d;
  d.log_a_re.assign(size_t(M), float(std::log(0.5)));
  d.a_im.resize(size_t(M));
  d.b.assign(size_t(2 * M), 0.f);
  for (int n = 0; n < M; ++n) d.b[size_t(2 * n)] = 1.f;  // B = 1 (dplr.py B_init 'constant')
  if (init == "legs") {
    const hippo::NPLR h = hippo::nplr_legs(N);
    for (int n = 0; n < M; ++n) {
      // S4 stores A_real = log(−Re Λ), A_imag = max(−Im Λ, 1e-4) (ssm.py inv_transform) and A = −exp − i·A_imag;
      // the engine's +i·A_imag with the same values is the conjugate mode, so B is conjugated too.
      d.log_a_re[size_t(n)] = float(std::log(std::max(-h.Lambda[size_t(n)].real(), 1e-4)));
      d.a_im[size_t(n)] = float(std::max(-h.Lambda[size_t(n)].imag(), 1e-4));
      d.b[size_t(2 * n)] = float(h.B[size_t(n)].real());
      d.b[size_t(2 * n + 1)] = float(-std::clamp(h.B[size_t(n)].imag(), -2.0, 2.0));  // hippo.py B_clip = 2
    }
  } else {
    for (int n = 0; n < M; ++n) {
      if (init == "lin") {
        d.a_im[size_t(n)] = float(kPi * double(n));
      } else if (init == "inv") {
        d.a_im[size_t(n)] = float(N / kPi * (double(N) / double(1 + 2 * n) - 1.0));
      } else {  // real: A = −(n + 1) (dplr.py init 'real'); Im 0, clamped at 1e-4 as inv_transform does
        d.log_a_re[size_t(n)] = float(std::log(double(n + 1)));
        d.a_im[size_t(n)] = 1e-4f;
      }
    }
  }
  return d;
}

// Rows of x [S, ...] repeated to [H, ...]: row h is row h mod S (einops repeat '(v t)' when S divides H).
Tensor tile_rows(const Tensor& x, int64_t H) {
  const int64_t S = x.dim(0);
  if (S == H) return x;
  const int64_t R = (H + S - 1) / S;
  std::vector<int64_t> one = x.shape().vec(), many = one, flat = one;
  one.insert(one.begin(), 1);
  many.insert(many.begin(), R);
  flat[0] = R * S;
  Tensor rep = ops::add(Tensor::zeros(Shape(many), x.dtype(), x.device()), ops::reshape(x, one));
  return ops::slice(ops::reshape(rep, flat), 0, 0, H);
}

class S4DMixer : public Mixer {
 public:
  S4DMixer(const MixerConfig& c, const S4DOptions& o, Generator& gen)
      : H_(c.width), max_len_(c.max_len), dropout_(c.dropout), bidirectional_(o.bidirectional) {
    const int N = o.ssm_n;
    LRA_CHECK(N >= 2 && N % 2 == 0, "s4d: ssm_n (the state size N) must be even and >= 2 (N/2 complex modes are ",
              "stored), got ", N);
    const int64_t M = N / 2;
    LRA_CHECK(0 < o.dt_min && o.dt_min <= o.dt_max, "s4d: need 0 < dt_min <= dt_max, got ", o.dt_min, " and ",
              o.dt_max);
    LRA_CHECK(0 <= o.n_ssm && o.n_ssm <= H_, "s4d: n_ssm must be in [0, width = ", H_, "] (0 = one (A, B) per ",
              "channel), got ", o.n_ssm);
    const int64_t S = o.n_ssm == 0 ? H_ : o.n_ssm;
    kopts_.dt = o.dt_transform == "softplus" ? ops::SSMDt::Softplus : ops::SSMDt::Exp;
    kopts_.disc = o.disc == "bilinear" ? ops::SSMDisc::Bilinear : ops::SSMDisc::ZOH;

    // dt: log-uniform; softplus stores inv_transform(dt) = log(exp(max(dt, 1e-4)) − 1) (ssm.py init_dt).
    Tensor dt = Tensor::empty({H_});
    nn::init::uniform(dt, gen, std::log(o.dt_min), std::log(o.dt_max));
    if (kopts_.dt == ops::SSMDt::Softplus) {
      std::vector<float> v = dt.to_vector<float>();
      for (float& x : v) x = float(std::log(std::expm1(std::max(std::exp(double(x)), 1e-4))));
      dt = Tensor::from_vector(v, {H_});
    }
    const bool dt_in_ssm = o.dt_group == "ssm";
    dt_ = register_parameter(kopts_.dt == ops::SSMDt::Softplus ? "inv_dt" : "log_dt", dt,
                             dt_in_ssm ? nn::ParamKind::Weight : nn::ParamKind::Bias,
                             dt_in_ssm ? "ssm" : "default");

    const DiagInit d = diag_init(o.init, N);
    std::vector<float> ar, ai, b;
    for (int64_t s = 0; s < S; ++s) {
      ar.insert(ar.end(), d.log_a_re.begin(), d.log_a_re.end());
      ai.insert(ai.end(), d.a_im.begin(), d.a_im.end());
      b.insert(b.end(), d.b.begin(), d.b.end());
    }
    log_A_real_ = register_parameter("log_A_real", Tensor::from_vector(ar, {S, M}), nn::ParamKind::Weight, "ssm");
    A_imag_ = register_parameter("A_imag", Tensor::from_vector(ai, {S, M}), nn::ParamKind::Weight, "ssm");
    B_ = register_parameter("B", Tensor::from_vector(b, {S, M, 2}), nn::ParamKind::Weight, "ssm");
    // randn(cfloat): real and imaginary parts each of variance 1/2.
    Tensor C = Tensor::empty({H_, M, 2});
    nn::init::normal(C, gen, 0.0, std::sqrt(0.5));
    C_ = register_parameter("C", C, nn::ParamKind::Weight, o.c_group);
    if (bidirectional_) {
      Tensor Ca = Tensor::empty({H_, M, 2});
      nn::init::normal(Ca, gen, 0.0, std::sqrt(0.5));
      C_anti_ = register_parameter("C_anti", Ca, nn::ParamKind::Weight, o.c_group);
    }
    Tensor D = Tensor::empty({H_});
    nn::init::normal(D, gen, 0.0, 1.0);
    D_ = register_parameter("D", D);
    out_weight_ = register_parameter("out_weight", torch_default_init({2 * H_, H_}, H_, gen));
    out_bias_ = register_parameter("out_bias", torch_default_init({2 * H_}, H_, gen), nn::ParamKind::Bias);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    check_mixer_input(x, H_, max_len_, "s4d");
    const int64_t L = x.dim(1);
    Tensor u = ops::transpose(zero_padding(x, key_mask), 1, 2);  // [B, H, L]
    const Kernels k = kernels(L);
    ops::FFTConvOptions opts;
    opts.anti = bidirectional_ ? ops::AntiCausal::FromLag1 : ops::AntiCausal::None;
    Tensor y = ops::gelu(ops::fftconv(u, k.causal, k.anti, D_, opts));
    y = ops::dropout(y, dropout_, gen, training(), /*tied_dim=*/2);  // one mask per (b, h), as S4's DropoutNd
    y = ops::linear(ops::transpose(y, 1, 2), out_weight_, out_bias_);  // [B, L, 2H]
    return ops::glu(y, -1);
  }

  std::vector<MixerKernel> materialized_kernels(int64_t L) override {
    autograd::NoGrad no_grad;
    const Kernels k = kernels(L);
    std::vector<MixerKernel> out{mixer_kernel("causal", false, 0, k.causal)};
    if (bidirectional_) out.push_back(mixer_kernel("anti-causal", true, 1, k.anti));
    return out;
  }

 private:
  struct Kernels {
    Tensor causal, anti;  // [H, L]; anti undefined unless bidirectional (fftconv's lag −1 onward)
  };

  // The kernels forward() convolves with at length L.
  Kernels kernels(int64_t L) {
    Tensor ar = tile_rows(log_A_real_, H_), ai = tile_rows(A_imag_, H_), b = tile_rows(B_, H_);
    Kernels k;
    k.causal = ops::ssm_kernel(dt_, ar, ai, b, C_, L, kopts_);
    if (bidirectional_) k.anti = ops::ssm_kernel(dt_, ar, ai, b, C_anti_, L, kopts_);
    return k;
  }

  int64_t H_, max_len_;
  double dropout_;
  bool bidirectional_;
  ops::SSMKernelOptions kopts_;
  Tensor dt_, log_A_real_, A_imag_, B_, C_, C_anti_, D_, out_weight_, out_bias_;
};

}  // namespace

LRA_REGISTER_MIXER(s4d, S4DOptions, "s4d",
                   "S4D: diagonal SSM kernel 2·Re Σ B·C̃·exp(ΔA·l) (ZOH or bilinear), FFT long conv, GELU, GLU",
                   "O(H·N·L + H·L log L)",
                   [](const MixerConfig& c, const S4DOptions& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<S4DMixer>(c, o, g);
                   });

}  // namespace lra::models
