// s4d: S4D, the diagonal state-space layer (Gu, Gupta, Goel, Ré 2022). Reference code: state-spaces/s4,
// models/s4/s4d.py (the minimal S4D layer) and src/models/sequence/kernels/ssm.py (SSMKernelDiag).
//
//   u = x [B, L, H] (H = D, padded positions zeroed) → [B, H, L]
//   K[h, l] = 2·Re Σ_n C̃[h, n] · exp(Δ_h A[h, n] · l)   (ZOH: C̃ = C·(exp(ΔA) − 1)/A; ops::ssm_kernel,
//             never materialising [H, N, L]); N/2 complex modes per channel, Δ_h = exp(log_dt[h])
//   y = GELU(K * u + D ⊙ u)  (ops::fftconv; bidirectional: a second C gives the anti-causal kernel, S4's
//             convention: lag −1 onward, sharing A and Δ)
//   y = Dropout(y) with one mask per (b, h) (S4's DropoutNd), then GLU(Linear_H→2H(y)) → [B, L, H]
//
// Initialisation: log Δ ~ U(log dt_min, log dt_max); A = −1/2 + iπn (S4D-Lin) or −1/2 + i(N/π)(N/(1+2n) − 1)
// (S4D-Inv), stored as log_A_real = log(1/2) and A_imag; C ~ CN(0, 1) (real and imaginary parts of
// variance 1/2); D ~ N(0, 1); the output Linear with PyTorch's default U(±1/√H).
// Parameter groups: log_dt, log_A_real and A_imag are in group "ssm" (their own lr, no weight decay);
// C joins them with ssm_bc.
// Cost: O(H·N·L) for the kernel, O(B·H·L log L) for the convolution, O(B·L·H²) for the output Linear.
#include <cmath>
#include <string>
#include <vector>

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
  bool bidirectional = false;
  bool ssm_bc = false;

  void visit(MixerOptions& o) {
    o.integer("ssm_n", ssm_n, "state size N (even: N/2 complex modes per channel)");
    o.choice("init", init, {"lin", "inv"}, "A initialisation: S4D-Lin or S4D-Inv");
    o.number("dt_min", dt_min, "smallest initial step size");
    o.number("dt_max", dt_max, "largest initial step size");
    o.flag("bidirectional", bidirectional, "add an anti-causal kernel (a second C)");
    o.flag("ssm_bc", ssm_bc, "C joins the ssm parameter group");
  }
};

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
    const std::string c_group = o.ssm_bc ? "ssm" : "default";

    Tensor log_dt = Tensor::empty({H_});
    nn::init::uniform(log_dt, gen, std::log(o.dt_min), std::log(o.dt_max));
    std::vector<float> a_im(size_t(H_ * M));
    for (int64_t h = 0; h < H_; ++h)
      for (int64_t n = 0; n < M; ++n)
        a_im[size_t(h * M + n)] = o.init == "lin" ? float(kPi * double(n))
                                                  : float(N / kPi * (double(N) / double(1 + 2 * n) - 1.0));
    log_dt_ = register_parameter("log_dt", log_dt, nn::ParamKind::Weight, "ssm");
    log_A_real_ = register_parameter("log_A_real", Tensor::full({H_, M}, std::log(0.5)), nn::ParamKind::Weight, "ssm");
    A_imag_ = register_parameter("A_imag", Tensor::from_vector(a_im, {H_, M}), nn::ParamKind::Weight, "ssm");
    // randn(cfloat): real and imaginary parts each of variance 1/2.
    Tensor C = Tensor::empty({H_, M, 2});
    nn::init::normal(C, gen, 0.0, std::sqrt(0.5));
    C_ = register_parameter("C", C, nn::ParamKind::Weight, c_group);
    if (bidirectional_) {
      Tensor Ca = Tensor::empty({H_, M, 2});
      nn::init::normal(Ca, gen, 0.0, std::sqrt(0.5));
      C_anti_ = register_parameter("C_anti", Ca, nn::ParamKind::Weight, c_group);
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
    Tensor K = ops::ssm_kernel(log_dt_, log_A_real_, A_imag_, C_, L);
    Tensor Ka = bidirectional_ ? ops::ssm_kernel(log_dt_, log_A_real_, A_imag_, C_anti_, L) : Tensor();
    ops::FFTConvOptions opts;
    opts.anti = bidirectional_ ? ops::AntiCausal::FromLag1 : ops::AntiCausal::None;
    Tensor y = ops::gelu(ops::fftconv(u, K, Ka, D_, opts));
    y = ops::dropout(y, dropout_, gen, training(), /*tied_dim=*/2);  // one mask per (b, h), as S4's DropoutNd
    y = ops::linear(ops::transpose(y, 1, 2), out_weight_, out_bias_);  // [B, L, 2H]
    return ops::glu(y, -1);
  }

 private:
  int64_t H_, max_len_;
  double dropout_;
  bool bidirectional_;
  Tensor log_dt_, log_A_real_, A_imag_, C_, C_anti_, D_, out_weight_, out_bias_;
};

}  // namespace

LRA_REGISTER_MIXER(s4d, S4DOptions, "s4d",
                   "S4D: diagonal SSM kernel 2·Re Σ C̃·exp(ΔA·l) (ZOH), FFT long conv, GELU, GLU",
                   "O(H·N·L + H·L log L)",
                   [](const MixerConfig& c, const S4DOptions& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<S4DMixer>(c, o, g);
                   });

}  // namespace lra::models
