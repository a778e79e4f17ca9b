// The long-convolution mixers, all built on ops::fftconv (x [B, L, D] is transposed to the [B, H, L]
// layout of the convolution and back):
//
//   s4d            S4D (Gu et al. 2022, state-spaces/s4 models/s4/s4d.py + SSMKernelDiag):
//                  y = GLU(Linear_H→2H(dropout(GELU(K * u + D⊙u)))), K from ops::ssm_kernel (ZOH, N/2
//                  complex modes per channel, H = D). Extras: ssm_n (N, default 64), init = lin | inv
//                  (S4D-Lin A = −1/2 + iπn, S4D-Inv A = −1/2 + i(N/π)(N/(1+2n) − 1)), dt_min / dt_max
//                  (log-uniform Δ, default 1e-3 / 1e-1), bidirectional = 0 | 1 (a second C gives the
//                  anti-causal kernel, S4's convention: lag −1 onward, sharing A and Δ), ssm_bc = 0 | 1
//                  (C joins group "ssm"). log_dt, log_A_real and A_imag are in parameter group "ssm".
//   gmlp           gMLP with a spatial long convolution (models-and-recipes §2.3, locality-bias paper
//                  Table 6); the backbone's pre-norm is LN1:
//                  z1, z2 = GELU(Linear_D→h(x)) ×2; z2 zeroed at padding; c = conv(z2) + bias;
//                  out = Linear_h→D(z1 ⊙ LN(c)). The kernel is free: `groups` independent rows (default 2,
//                  the paper's "independent kernel channels", repeated to h: channel j uses row j mod
//                  groups), centred over lags −L..L when bidirectional (default 1) else causal. Kernel
//                  ~ N(0, 1e-5²) and bias 1 make LN(c) ≈ 0 at init, so the block starts as the identity.
//                  Extras: hidden (h, default 2D), groups, bidirectional. The convolution is unscaled
//                  (the predecessor's FFT path multiplies by 1/√n, a quirk we do not copy).
//   residual_conv  the locality-bias paper's probe (Table 7): a convolution of kernel size K mapping
//                  D → H (groups g), ReLU, Linear_H→D (the backbone adds the residual). For an odd K it
//                  is the paper's dense convolution, centred (output t sees inputs t−K/2..t+K/2, zero
//                  padded): im2col gathers the K shifted copies of x into [B, L, K·D] (pad + slices +
//                  concat, so the backward is the ops' own), and one GEMM per group applies the weight
//                  conv_weight [g, K·D/g, H/g] (row k·D/g + i of group c: tap k, input channel c·D/g + i).
//                  Memory of the im2col grows as K·B·L·D, fine for the paper's K ≤ 61. kernel_size 0 ("full
//                  length") is our extension, since a dense kernel over 2L−1 lags would hold H·D·2L
//                  weights: a depthwise kernel over all lags −(L−1)..L−1 on the D channels (ops::fftconv)
//                  followed by a pointwise Linear_D→H.
//                  Extras: kernel_size (odd K, or 0 = full length), hidden (H, default D), groups (g,
//                  dividing D and H; default 1, the paper uses 32 for Pathfinder).
//
// Mixer keys are declared in each registry entry (models/mixer.h): any other key is an error.
//
// Padding: every mixer zeroes the padded positions of its convolution input (key_mask), so padding
// never leaks into real positions through the anti-causal taps. The int32 mask is cast to float on its
// own device (ops::cast), so no host round trip enters the training step.
#include <cmath>
#include <string>
#include <vector>

#include "models/mixer.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/fftconv.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/shape/shape_ops.h"
#include "ops/ssmkernel/ssmkernel.h"

namespace lra::models {
namespace {

constexpr double kPi = 3.14159265358979323846;

// x with the rows of padded positions zeroed (key_mask [B, L] int32, 1 = real token); x itself when
// there is no mask.
Tensor zero_padding(const Tensor& x, const Tensor& key_mask) {
  if (!key_mask.defined()) return x;
  LRA_CHECK(key_mask.ndim() == 2 && key_mask.dim(0) == x.dim(0) && key_mask.dim(1) == x.dim(1),
            "conv mixer: key_mask has shape ", key_mask.describe(), " but x is ", x.describe());
  // On the mask's own device: no host round trip in the training step.
  Tensor mask = ops::cast(key_mask, x.dtype()).view({x.dim(0), x.dim(1), 1});
  return ops::mul(x, mask);
}

void check_input(const Tensor& x, int64_t width, int64_t max_len, const char* name) {
  LRA_CHECK(x.defined() && x.ndim() == 3, name, ": x must be [B, L, D], got ",
            x.defined() ? x.describe() : std::string("an undefined tensor"));
  LRA_CHECK(x.dim(2) == width, name, ": the last dim of x is ", x.dim(2), " but the mixer was built for width ",
            width);
  LRA_CHECK(x.dim(1) <= max_len, name, ": sequence length ", x.dim(1), " exceeds max_len ", max_len);
}

// A dense layer's weight [out, in] and bias [out] with PyTorch's default init U(±1/√in).
Tensor uniform_fan_in(const Shape& shape, int64_t fan_in, Generator& gen) {
  Tensor t = Tensor::empty(shape);
  double bound = 1.0 / std::sqrt(double(fan_in));
  nn::init::uniform(t, gen, -bound, bound);
  return t;
}

int positive_int(const MixerConfig& c, const char* key, double fallback, const char* mixer) {
  double v = c.get(key, fallback);
  LRA_CHECK(v >= 1 && v == std::floor(v), mixer, ": ", key, " must be a positive integer, got ", v);
  return int(v);
}

bool flag(const MixerConfig& c, const char* key, double fallback, const char* mixer) {
  double v = c.get(key, fallback);
  LRA_CHECK(v == 0 || v == 1, mixer, ": ", key, " must be 0 or 1, got ", v);
  return v == 1;
}

// ---------------------------------------------------------------------------------------------------
class S4DMixer : public Mixer {
 public:
  S4DMixer(const MixerConfig& c, Generator& gen)
      : H_(c.width), max_len_(c.max_len), dropout_(c.dropout), bidirectional_(flag(c, "bidirectional", 0, "s4d")) {
    const int N = positive_int(c, "ssm_n", 64, "s4d");
    LRA_CHECK(N % 2 == 0, "s4d: ssm_n (the state size N) must be even (N/2 complex modes are stored), got ", N);
    const int64_t M = N / 2;
    const std::string init = c.get_string("init", "lin");
    LRA_CHECK(init == "lin" || init == "inv", "s4d: init must be lin (S4D-Lin) or inv (S4D-Inv), got '", init, "'");
    const double dt_min = c.get("dt_min", 1e-3), dt_max = c.get("dt_max", 1e-1);
    LRA_CHECK(0 < dt_min && dt_min <= dt_max, "s4d: need 0 < dt_min <= dt_max, got ", dt_min, " and ", dt_max);
    const std::string c_group = flag(c, "ssm_bc", 0, "s4d") ? "ssm" : "default";

    Tensor log_dt = Tensor::empty({H_});
    nn::init::uniform(log_dt, gen, std::log(dt_min), std::log(dt_max));
    std::vector<float> a_im(size_t(H_ * M));
    for (int64_t h = 0; h < H_; ++h)
      for (int64_t n = 0; n < M; ++n)
        a_im[size_t(h * M + n)] = init == "lin" ? float(kPi * double(n))
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
    out_weight_ = register_parameter("out_weight", uniform_fan_in({2 * H_, H_}, H_, gen));
    out_bias_ = register_parameter("out_bias", uniform_fan_in({2 * H_}, H_, gen), nn::ParamKind::Bias);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    check_input(x, H_, max_len_, "s4d");
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

// ---------------------------------------------------------------------------------------------------
class GMLPMixer : public Mixer {
 public:
  GMLPMixer(const MixerConfig& c, Generator& gen)
      : D_(c.width), h_(positive_int(c, "hidden", 2.0 * c.width, "gmlp")), max_len_(c.max_len),
        bidirectional_(flag(c, "bidirectional", 1, "gmlp")) {
    const int groups = positive_int(c, "groups", 2, "gmlp");
    LRA_CHECK(h_ % groups == 0, "gmlp: groups (independent kernel rows) = ", groups,
              " must divide hidden = ", h_);
    // The two input projections stacked: rows 0..h−1 give the gate z1, rows h..2h−1 the conv input z2.
    in_weight_ = register_parameter("in_weight", uniform_fan_in({2 * h_, D_}, D_, gen));
    in_bias_ = register_parameter("in_bias", uniform_fan_in({2 * h_}, D_, gen), nn::ParamKind::Bias);
    Tensor kc = Tensor::empty({groups, max_len_});
    nn::init::normal(kc, gen, 0.0, 1e-5);
    kernel_causal_ = register_parameter("kernel_causal", kc);
    if (bidirectional_) {
      Tensor ka = Tensor::empty({groups, max_len_});
      nn::init::normal(ka, gen, 0.0, 1e-5);
      kernel_anti_ = register_parameter("kernel_anti", ka);  // tap j is lag −(j+1)
    }
    conv_bias_ = register_parameter("conv_bias", Tensor::ones({h_}), nn::ParamKind::Bias);
    norm_weight_ = register_parameter("norm_weight", Tensor::ones({h_}), nn::ParamKind::Norm);
    norm_bias_ = register_parameter("norm_bias", Tensor::zeros({h_}), nn::ParamKind::Norm);
    out_weight_ = register_parameter("out_weight", uniform_fan_in({D_, h_}, h_, gen));
    out_bias_ = register_parameter("out_bias", uniform_fan_in({D_}, h_, gen), nn::ParamKind::Bias);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator&) override {
    check_input(x, D_, max_len_, "gmlp");
    const int64_t L = x.dim(1);
    std::vector<Tensor> z = ops::split(ops::gelu(ops::linear(x, in_weight_, in_bias_)), {h_, h_}, -1);
    Tensor u = ops::transpose(zero_padding(z[1], key_mask), 1, 2);  // [B, h, L]
    ops::FFTConvOptions opts;
    opts.anti = bidirectional_ ? ops::AntiCausal::FromLag1 : ops::AntiCausal::None;
    Tensor kc = ops::slice(kernel_causal_, 1, 0, L);
    Tensor ka = bidirectional_ ? ops::slice(kernel_anti_, 1, 0, L) : Tensor();
    Tensor conv = ops::add(ops::transpose(ops::fftconv(u, kc, ka, Tensor(), opts), 1, 2), conv_bias_);  // [B, L, h]
    Tensor s = ops::mul(z[0], ops::layer_norm(conv, norm_weight_, norm_bias_));
    return ops::linear(s, out_weight_, out_bias_);
  }

 private:
  int64_t D_, h_, max_len_;
  bool bidirectional_;
  Tensor in_weight_, in_bias_, kernel_causal_, kernel_anti_, conv_bias_, norm_weight_, norm_bias_, out_weight_,
      out_bias_;
};

// ---------------------------------------------------------------------------------------------------
class ResidualConvMixer : public Mixer {
 public:
  ResidualConvMixer(const MixerConfig& c, Generator& gen)
      : D_(c.width),
        H_(positive_int(c, "hidden", c.width, "residual_conv")),
        groups_(positive_int(c, "groups", 1, "residual_conv")),
        max_len_(c.max_len) {
    const double k = c.get("kernel_size", 0);
    LRA_CHECK(k == 0 || (k >= 1 && k == std::floor(k) && int64_t(k) % 2 == 1),
              "residual_conv: kernel_size must be odd (taps −K/2..K/2) or 0 (full length), got ", k);
    LRA_CHECK(D_ % groups_ == 0 && H_ % groups_ == 0, "residual_conv: groups = ", groups_,
              " must divide the width (", D_, ") and hidden (", H_, ")");
    full_ = k == 0;
    if (full_) {
      LRA_CHECK(groups_ == 1, "residual_conv: groups applies to a bounded kernel_size, not to 0 (full length)");
      // Depthwise over every lag (half = L−1 each side), then pointwise D → H.
      half_ = max_len_ - 1;
      const double bound = 1.0 / std::sqrt(double(2 * half_ + 1));  // PyTorch's U(±1/√fan_in), fan_in = taps
      Tensor kc = Tensor::empty({D_, half_ + 1});
      nn::init::uniform(kc, gen, -bound, bound);
      kernel_causal_ = register_parameter("kernel_causal", kc);  // tap j is lag j, j = 0..L−1
      if (half_ > 0) {
        Tensor ka = Tensor::empty({D_, half_});
        nn::init::uniform(ka, gen, -bound, bound);
        kernel_anti_ = register_parameter("kernel_anti", ka);  // tap j is lag −(j+1)
      }
      conv_weight_ = register_parameter("proj_weight", uniform_fan_in({H_, D_}, D_, gen));
      conv_bias_ = register_parameter("proj_bias", uniform_fan_in({H_}, D_, gen), nn::ParamKind::Bias);
    } else {
      half_ = int64_t(k) / 2;
      const int64_t fan_in = (D_ / groups_) * int64_t(k);  // PyTorch Conv1d: in_channels/groups · K
      conv_weight_ = register_parameter(
          "conv_weight", uniform_fan_in({groups_, int64_t(k) * (D_ / groups_), H_ / groups_}, fan_in, gen));
      conv_bias_ = register_parameter("conv_bias", uniform_fan_in({H_}, fan_in, gen), nn::ParamKind::Bias);
    }
    out_weight_ = register_parameter("out_weight", uniform_fan_in({D_, H_}, H_, gen));
    out_bias_ = register_parameter("out_bias", uniform_fan_in({D_}, H_, gen), nn::ParamKind::Bias);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator&) override {
    check_input(x, D_, max_len_, "residual_conv");
    Tensor u = zero_padding(x, key_mask);
    Tensor y = full_ ? depthwise_full(u) : dense(u);  // [B, L, H]
    return ops::linear(ops::relu(y), out_weight_, out_bias_);
  }

 private:
  // The paper's convolution: im2col, then one GEMM per group.
  Tensor dense(const Tensor& u) const {
    const int64_t B = u.dim(0), L = u.dim(1), K = 2 * half_ + 1, g = groups_, Dg = D_ / g;
    Tensor padded = ops::pad(u, 1, half_, half_);  // [B, L + K − 1, D]
    std::vector<Tensor> taps;
    for (int64_t k = 0; k < K; ++k) taps.push_back(ops::slice(padded, 1, k, k + L));  // input t + k − K/2
    Tensor cols = K == 1 ? taps[0] : ops::concat(taps, 2);                             // [B, L, K·D]
    Tensor y;
    if (g == 1) {
      y = ops::matmul(ops::reshape(cols, {B * L, K * D_}), ops::reshape(conv_weight_, {K * D_, H_}));
    } else {
      // [B·L, K, g, Dg] → [g, B·L, K·Dg]: each group sees its own input channels at every tap.
      Tensor grouped = ops::reshape(ops::permute(ops::reshape(cols, {B * L, K, g, Dg}), {2, 0, 1, 3}), {g, B * L, K * Dg});
      y = ops::matmul(grouped, conv_weight_);                                       // [g, B·L, Hg]
      y = ops::reshape(ops::transpose(y, 0, 1), {B * L, H_});                       // channel c·Hg + j
    }
    return ops::add(ops::reshape(y, {B, L, H_}), conv_bias_);
  }

  // kernel_size 0: depthwise over all lags, then pointwise D → H.
  Tensor depthwise_full(const Tensor& x) const {
    const int64_t L = x.dim(1);
    Tensor u = ops::transpose(x, 1, 2);  // [B, D, L]
    // fftconv takes equal-length causal and anti-causal rows: the anti-causal side has one tap fewer
    // (lag 0 is causal), so it gets a zero tap at its far end; taps beyond L−1 never reach an output.
    const int64_t Lk = std::min(half_ + 1, L);
    Tensor kc = ops::slice(kernel_causal_, 1, 0, Lk), ka;
    ops::FFTConvOptions opts;
    if (half_ > 0) {
      ka = ops::slice(ops::pad(kernel_anti_, 1, 0, 1), 1, 0, Lk);
      opts.anti = ops::AntiCausal::FromLag1;
    }
    Tensor y = ops::transpose(ops::fftconv(u, kc, ka, Tensor(), opts), 1, 2);  // [B, L, D]
    return ops::linear(y, conv_weight_, conv_bias_);
  }

  int64_t D_, H_, groups_, max_len_, half_ = 0;
  bool full_ = false;
  Tensor kernel_causal_, kernel_anti_, conv_weight_, conv_bias_, out_weight_, out_bias_;
};

}  // namespace

LRA_REGISTER_MIXER(s4d, "s4d", "S4D: diagonal SSM kernel 2·Re Σ C̃·exp(ΔA·l) (ZOH), FFT long conv, GELU, GLU",
                   "O(H·N·L + H·L log L)",
                   {"ssm_n", "init", "dt_min", "dt_max", "bidirectional", "ssm_bc"},
                   [](const MixerConfig& c, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<S4DMixer>(c, g);
                   });
LRA_REGISTER_MIXER(gmlp, "gmlp", "gMLP: GELU gate z1 ⊙ LN(free long conv(z2) + bias), kernel shared by channel groups",
                   "O(h·L log L + L·D·h)",
                   {"hidden", "groups", "bidirectional"},
                   [](const MixerConfig& c, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<GMLPMixer>(c, g);
                   });
LRA_REGISTER_MIXER(residual_conv, "residual_conv",
                   "locality probe: centred dense conv D→H of size K (im2col + GEMM), ReLU, linear H→D",
                   "O(L·K·D·H/g + L·D·H)",
                   {"kernel_size", "hidden", "groups"},
                   [](const MixerConfig& c, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<ResidualConvMixer>(c, g);
                   });

}  // namespace lra::models
