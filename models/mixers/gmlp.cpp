// gmlp: gMLP with a spatial long convolution, the locality-bias paper's model (Miralles-González et al.
// 2025). Reference code: pablomiralles22/long-transformers, src/models/layers/gmlp.py and
// src/models/functional/fft_conv1d.py (our notes: models-and-recipes.md §2.3, locality-bias-paper.md
// Table 6). The backbone's pre-norm is the block's LN1.
//
//   z1, z2 = split(GELU(Linear_D→2h(x)))          gate z1 and conv input z2, each [B, L, h]
//   z2 zeroed at padding; c = conv(z2) + bias      a free kernel over lags (ops::fftconv): `groups`
//                                                  independent rows repeated to h (channel j uses row
//                                                  j mod groups), lags −L..L when bidirectional, else causal
//   out = Linear_h→D(z1 ⊙ LN(c))
// The kernel starts ~ N(0, 1e-5²) and the conv bias at 1, so LN(c) ≈ 0 and the block starts as the
// identity (the gMLP near-identity trick). The convolution is unscaled: the predecessor's FFT path
// multiplies by 1/√n, a quirk of one code path we do not copy (models-and-recipes.md §2.3).
// Linear layers start as PyTorch's (U(±1/√fan_in)); LN is LayerNorm eps 1e-6 (ops::layer_norm).
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

  void visit(MixerOptions& o) {
    o.integer("hidden", hidden, "gate and convolution width h (0: twice the model width)");
    o.integer("groups", groups, "independent kernel rows, repeated over the h channels (must divide h)");
    o.flag("bidirectional", bidirectional, "kernel over lags -L..L (false: causal)");
  }
};

class GMLPMixer : public Mixer {
 public:
  GMLPMixer(const MixerConfig& c, const GMLPOptions& o, Generator& gen)
      : D_(c.width), h_(o.hidden > 0 ? o.hidden : 2 * c.width), max_len_(c.max_len), bidirectional_(o.bidirectional) {
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
    conv_bias_ = register_parameter("conv_bias", Tensor::ones({h_}), nn::ParamKind::Bias);
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

}  // namespace

LRA_REGISTER_MIXER(gmlp, GMLPOptions, "gmlp",
                   "gMLP: GELU gate z1 ⊙ LN(free long conv(z2) + bias), kernel shared by channel groups",
                   "O(h·L log L + L·D·h)",
                   [](const MixerConfig& c, const GMLPOptions& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<GMLPMixer>(c, o, g);
                   });

}  // namespace lra::models
