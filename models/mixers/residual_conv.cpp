// residual_conv: the locality-bias paper's convolutional probe (Miralles-González et al. 2025, Table 7;
// our notes: locality-bias-paper.md "Convolutional probe"): a convolution of kernel size K mapping D → H
// (groups g), ReLU, Linear_H→D; the backbone adds the residual. Reference code: the paper's
// repository, pablomiralles22/long-transformers (its conv layer is a plain nn.Conv1d, "same" padding).
//
//   odd K (the paper's): a dense convolution, centred (output t sees inputs t−K/2..t+K/2, zero padded).
//     im2col gathers the K shifted copies of x into [B, L, K·D] (pad + slices + concat, so the backward is
//     the ops' own) and one GEMM per group applies conv_weight [g, K·D/g, H/g] (row k·D/g + i of group c:
//     tap k, input channel c·D/g + i). The im2col holds K·B·L·D values: fine for the paper's K ≤ 61.
//   K = 0 ("full length", our extension: a dense kernel over 2L−1 lags would hold H·D·2L weights): a
//     depthwise kernel over all lags −(L−1)..L−1 on the D channels (ops::fftconv), then a pointwise
//     Linear_D→H (proj_weight, proj_bias).
// Padded positions of the input are zeroed first, so padding never leaks into real positions.
// Weights start as PyTorch's Conv1d / Linear: U(±1/√fan_in), fan_in = (D/g)·K for the convolution.
// Cost: O(B·L·K·D·H/g) (dense) or O(B·D·L log L + B·L·D·H) (full), plus O(B·L·H·D) for the output.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "models/layers.h"
#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/fftconv.h"
#include "ops/matmul/matmul.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {
namespace {

struct ResidualConvOptions {
  int kernel_size = 0;
  int hidden = 0;  // 0: the model width
  int groups = 1;

  void visit(MixerOptions& o) {
    o.integer("kernel_size", kernel_size, "odd kernel size K (taps -K/2..K/2), or 0 for every lag (full length)");
    o.integer("hidden", hidden, "convolution output channels H (0: the model width)");
    o.integer("groups", groups, "convolution groups g, dividing the width and hidden (bounded K only)");
  }
};

class ResidualConvMixer : public Mixer {
 public:
  ResidualConvMixer(const MixerConfig& c, const ResidualConvOptions& o, Generator& gen)
      : D_(c.width), H_(o.hidden > 0 ? o.hidden : c.width), groups_(o.groups), max_len_(c.max_len) {
    const int k = o.kernel_size;
    LRA_CHECK(k == 0 || (k >= 1 && k % 2 == 1),
              "residual_conv: kernel_size must be odd (taps −K/2..K/2) or 0 (full length), got ", k);
    LRA_CHECK(o.hidden >= 0, "residual_conv: hidden must be >= 0 (0: the width), got ", o.hidden);
    LRA_CHECK(groups_ >= 1 && D_ % groups_ == 0 && H_ % groups_ == 0, "residual_conv: groups = ", groups_,
              " must be positive and divide the width (", D_, ") and hidden (", H_, ")");
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
      conv_weight_ = register_parameter("proj_weight", torch_default_init({H_, D_}, D_, gen));
      conv_bias_ = register_parameter("proj_bias", torch_default_init({H_}, D_, gen), nn::ParamKind::Bias);
    } else {
      half_ = k / 2;
      const int64_t fan_in = (D_ / groups_) * k;  // PyTorch Conv1d: in_channels/groups · K
      conv_weight_ = register_parameter(
          "conv_weight", torch_default_init({groups_, int64_t(k) * (D_ / groups_), H_ / groups_}, fan_in, gen));
      conv_bias_ = register_parameter("conv_bias", torch_default_init({H_}, fan_in, gen), nn::ParamKind::Bias);
    }
    out_weight_ = register_parameter("out_weight", torch_default_init({D_, H_}, H_, gen));
    out_bias_ = register_parameter("out_bias", torch_default_init({D_}, H_, gen), nn::ParamKind::Bias);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator&) override {
    check_mixer_input(x, D_, max_len_, "residual_conv");
    Tensor u = zero_padding(x, key_mask);
    Tensor y = full_ ? depthwise_full(u) : dense(u);  // [B, L, H]
    return ops::linear(ops::relu(y), out_weight_, out_bias_);
  }

  // kernel_size 0: the depthwise kernels over lags 0..L−1 and −1..−(L−1), one row per channel.
  // Bounded K: the dense filter, one row per (group, input channel, output channel) pair, over lags
  // 0..K/2 (causal) and 1..K/2 (anti-causal); conv_weight_ row k·D/g + i is tap k, input t + k − K/2.
  std::vector<MixerKernel> materialized_kernels(int64_t L) override {
    autograd::NoGrad no_grad;
    if (full_) {
      const FullKernels k = full_kernels(L);
      std::vector<MixerKernel> out{mixer_kernel("causal", false, 0, k.causal)};
      // The anti-causal row's last column (lag Lk) never reaches an output: fftconv's zero pad, or a tap
      // beyond L − 1.
      if (k.anti.defined() && k.anti.dim(1) > 1)
        out.push_back(mixer_kernel("anti-causal", true, 1, ops::slice(k.anti, 1, 0, k.anti.dim(1) - 1)));
      return out;
    }
    const int64_t K = 2 * half_ + 1, g = groups_, Dg = D_ / g, Hg = H_ / g;
    // [g, K, Dg, Hg] → [g·Dg·Hg, K]: a row per (group, input, output) channel pair, a column per tap.
    Tensor w = ops::reshape(ops::permute(ops::reshape(conv_weight_, {g, K, Dg, Hg}), {0, 2, 3, 1}), {g * Dg * Hg, K});
    std::vector<Tensor> causal;  // lag ℓ = K/2 − k: taps K/2, K/2 − 1, ..., 0
    for (int64_t k = half_; k >= 0; --k) causal.push_back(ops::slice(w, 1, k, k + 1));
    std::vector<MixerKernel> out{mixer_kernel("causal", false, 0, causal.size() == 1 ? causal[0] : ops::concat(causal, 1))};
    if (half_ > 0) out.push_back(mixer_kernel("anti-causal", true, 1, ops::slice(w, 1, half_ + 1, K)));
    (void)L;  // the dense filter is the same at every length
    return out;
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
    const FullKernels k = full_kernels(L);
    ops::FFTConvOptions opts;
    if (k.anti.defined()) opts.anti = ops::AntiCausal::FromLag1;
    Tensor y = ops::transpose(ops::fftconv(u, k.causal, k.anti, Tensor(), opts), 1, 2);  // [B, L, D]
    return ops::linear(y, conv_weight_, conv_bias_);
  }

  struct FullKernels {
    Tensor causal, anti;  // [D, Lk] each, anti from lag 1 (undefined when max_len = 1)
  };

  // kernel_size 0: the depthwise taps fftconv applies at length L. fftconv takes equal-length causal and
  // anti-causal rows: the anti-causal side has one tap fewer (lag 0 is causal), so it gets a zero tap at
  // its far end; taps beyond L−1 never reach an output.
  FullKernels full_kernels(int64_t L) const {
    const int64_t Lk = std::min(half_ + 1, L);
    FullKernels k;
    k.causal = ops::slice(kernel_causal_, 1, 0, Lk);
    if (half_ > 0) k.anti = ops::slice(ops::pad(kernel_anti_, 1, 0, 1), 1, 0, Lk);
    return k;
  }

  int64_t D_, H_, groups_, max_len_, half_ = 0;
  bool full_ = false;
  Tensor kernel_causal_, kernel_anti_, conv_weight_, conv_bias_, out_weight_, out_bias_;
};

}  // namespace

LRA_REGISTER_MIXER(residual_conv, ResidualConvOptions, "residual_conv",
                   "locality probe: centred dense conv D→H of size K (im2col + GEMM), ReLU, linear H→D",
                   "O(L·K·D·H/g + L·D·H)",
                   [](const MixerConfig& c, const ResidualConvOptions& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<ResidualConvMixer>(c, o, g);
                   });

}  // namespace lra::models
