// gmlp: gMLP with a spatial long convolution, the locality-bias paper's model (Miralles-González et al.
// 2025). Reference code: pablomiralles22/long-transformers, src/models/layers/gmlp.py and
// src/models/functional/fft_conv1d.py (our notes: models-and-recipes.md §2.3, locality-bias-paper.md
// Table 6). The backbone's pre-norm is the block's LN1.
//
//   z1, z2 = split(GELU(Linear_D→2h(x)))          gate z1 and conv input z2, each [B, L, h]
//   z2 zeroed at padding; c = s·conv(z2) + bias    a free kernel over lags (ops::fftconv): `groups`
//                                                  independent rows repeated to h (channel j uses row
//                                                  j mod groups), lags −L..L when bidirectional, else causal
//   out = Linear_h→D(z1 ⊙ LN(c))
// The kernel starts ~ N(0, 1e-5²) and the conv bias at 1, so LN(c) ≈ 0 and the block starts as the
// identity (the gMLP near-identity trick).
// Two details follow the predecessor (gmlp.py SpatialConv, fft_conv1d.py), each with our earlier form as
// an option:
//   conv_bias = shared (default): `groups` bias values, channel j adds bias[j mod groups], as gmlp.py
//     repeats its num_channels biases over the hidden width (`self.bias.repeat(D // C)`), the same
//     mapping as the kernel rows. per_channel: h independent biases.
//   conv_scale = ortho (default): s = 1/√n with n the power of two fft_conv1d.py transforms at, the
//     smallest ≥ L + K where K = 2·max_len + 1 (bidirectional) or max_len (causal) is the predecessor's
//     kernel length for seq_len = max_len: rfft(x, norm="ortho")·rfft(k, norm="ortho") carries 1/n and
//     irfft(norm="ortho") gives back √n, so the circular convolution comes out times 1/√n. At the LRA
//     lengths that is 1/64 (image, Pathfinder: n = 4096), 1/90.5 (ListOps, n = 8192) and 1/128 (text,
//     retrieval, n = 16384). none: s = 1, the true convolution (the predecessor's own conv1d path for
//     kernels of ≤ 30 taps). The scale is applied to the kernel taps, which is the same product.
// Linear layers start as PyTorch's (U(±1/√fan_in)); LN is LayerNorm eps 1e-5 (ops::layer_norm's default,
// the predecessor's norm_eps).
// Cost: O(B·h·L log L) for the convolution and O(B·L·D·h) for the projections.
#include <cmath>
#include <string>
#include <vector>

#include "models/layers.h"
#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/fftconv.h"
#include "ops/matmul/matmul.h"
#include "ops/norm/norm.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {
namespace {

struct GMLPOptions {
  int hidden = 0;  // 0: 2D
  int groups = 2;
  bool bidirectional = true;
  std::string conv_scale = "ortho";
  std::string conv_bias = "shared";

  void visit(MixerOptions& o) {
    o.integer("hidden", hidden, "gate and convolution width h (0: twice the model width)");
    o.integer("groups", groups, "independent kernel rows, repeated over the h channels (must divide h)");
    o.flag("bidirectional", bidirectional, "kernel over lags -L..L (false: causal)");
    o.choice("conv_scale", conv_scale, {"ortho", "none"},
             "ortho: the convolution times 1/sqrt(n), n = the predecessor's FFT length (its norm=\"ortho\"); "
             "none: unscaled");
    o.choice("conv_bias", conv_bias, {"shared", "per_channel"},
             "shared: one bias per kernel row, channel j adds bias[j mod groups] (the predecessor); "
             "per_channel: one per hidden channel");
  }
};

class GMLPMixer : public Mixer {
 public:
  GMLPMixer(const MixerConfig& c, const GMLPOptions& o, Generator& gen)
      : D_(c.width),
        h_(o.hidden > 0 ? o.hidden : 2 * c.width),
        max_len_(c.max_len),
        groups_(o.groups),
        bidirectional_(o.bidirectional),
        ortho_scale_(o.conv_scale == "ortho"),
        shared_bias_(o.conv_bias == "shared") {
    LRA_CHECK(o.hidden >= 0, "gmlp: hidden must be >= 0 (0: twice the width), got ", o.hidden);
    LRA_CHECK(o.groups >= 1 && h_ % o.groups == 0, "gmlp: groups (independent kernel rows) = ", o.groups,
              " must be positive and divide hidden = ", h_);
    // The two input projections stacked: rows 0..h−1 give the gate z1, rows h..2h−1 the conv input z2.
    in_weight_ = register_parameter("in_weight", torch_default_init({2 * h_, D_}, D_, gen));
    in_bias_ = register_parameter("in_bias", torch_default_init({2 * h_}, D_, gen), nn::ParamKind::Bias);
    Tensor kc = Tensor::empty({o.groups, max_len_});
    nn::init::normal(kc, gen, 0.0, 1e-5);
    kernel_causal_ = register_parameter("kernel_causal", kc);
    if (bidirectional_) {
      Tensor ka = Tensor::empty({o.groups, max_len_});
      nn::init::normal(ka, gen, 0.0, 1e-5);
      kernel_anti_ = register_parameter("kernel_anti", ka);  // tap j is lag −(j+1)
    }
    conv_bias_ = register_parameter("conv_bias", Tensor::ones({shared_bias_ ? groups_ : h_}), nn::ParamKind::Bias);
    norm_weight_ = register_parameter("norm_weight", Tensor::ones({h_}), nn::ParamKind::Norm);
    norm_bias_ = register_parameter("norm_bias", Tensor::zeros({h_}), nn::ParamKind::Norm);
    out_weight_ = register_parameter("out_weight", torch_default_init({D_, h_}, h_, gen));
    out_bias_ = register_parameter("out_bias", torch_default_init({D_}, h_, gen), nn::ParamKind::Bias);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator&) override {
    check_mixer_input(x, D_, max_len_, "gmlp");
    const int64_t L = x.dim(1);
    std::vector<Tensor> z = ops::split(ops::gelu(ops::linear(x, in_weight_, in_bias_)), {h_, h_}, -1);
    Tensor u = ops::transpose(zero_padding(z[1], key_mask), 1, 2);  // [B, h, L]
    ops::FFTConvOptions opts;
    opts.anti = bidirectional_ ? ops::AntiCausal::FromLag1 : ops::AntiCausal::None;
    Tensor kc = ops::slice(kernel_causal_, 1, 0, L);
    Tensor ka = bidirectional_ ? ops::slice(kernel_anti_, 1, 0, L) : Tensor();
    if (ortho_scale_) {
      const double s = ortho_scale(L);
      kc = ops::scale(kc, s);
      if (bidirectional_) ka = ops::scale(ka, s);
    }
    Tensor conv = ops::transpose(ops::fftconv(u, kc, ka, Tensor(), opts), 1, 2);  // [B, L, h]
    if (shared_bias_) {  // channel j = q·groups + r adds bias[r]: broadcast over [B, L, h/groups, groups]
      const int64_t B = conv.dim(0);
      conv = ops::reshape(ops::add(ops::reshape(conv, {B, L, h_ / groups_, groups_}), conv_bias_), {B, L, h_});
    } else {
      conv = ops::add(conv, conv_bias_);
    }
    Tensor s = ops::mul(z[0], ops::layer_norm(conv, norm_weight_, norm_bias_));
    return ops::linear(s, out_weight_, out_bias_);
  }

  // 1/√n, n the smallest power of two ≥ L + K, K the predecessor's kernel length for seq_len = max_len.
  double ortho_scale(int64_t L) const {
    const int64_t K = bidirectional_ ? 2 * max_len_ + 1 : max_len_;
    int64_t n = 1;
    while (n < L + K) n *= 2;
    return 1.0 / std::sqrt(double(n));
  }

 private:
  int64_t D_, h_, max_len_, groups_;
  bool bidirectional_, ortho_scale_, shared_bias_;
  Tensor in_weight_, in_bias_, kernel_causal_, kernel_anti_, conv_bias_, norm_weight_, norm_bias_, out_weight_,
      out_bias_;
};

}  // namespace

LRA_REGISTER_MIXER(gmlp, GMLPOptions, "gmlp",
                   "gMLP: GELU gate z1 ⊙ LN(free long conv(z2) + bias), kernel shared by channel groups",
                   "O(h·L log L + L·D·h)",
                   [](const MixerConfig& c, const GMLPOptions& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<GMLPMixer>(c, o, g);
                   });

}  // namespace lra::models
