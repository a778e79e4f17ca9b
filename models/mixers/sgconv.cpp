// sgconv: SGConv, the structured global convolution (Li, Cai, Zhang, Chen, Dey 2022, "What Makes
// Convolutional Models Great on Long Sequence Modeling?"). Reference code: ctlllll/SGConv, branch
// `preview` (0c2b3ab), src/models/sequence/gconv.py (GConv, the module the LRA recipes
// configs/experiment/lra/gconv-lra-*.yaml train; gconv_standalone.py on main is the same kernel).
//
//   u = x [B, L, H] (padded positions zeroed) → [B, H, L];  d_k = kernel_dim, S scales, c ∈ {0, 1} the
//   direction (one unless bidirectional)
//   S      = 1 + ⌈log2(max_len / d_k)⌉ − init_scale                   (gconv.py 113; at least 1 here)
//   f_i    = 2^(max(0, i − 1) + init_scale)                             (gconv.py 189)
//   seg_i  = upsample_linear(W_i[c, h, :], f_i) · m_h^(S−1−i)           W_i [C, H, d_k], f_i·d_k taps
//   k̃      = concat_i seg_i, length d_k·2^(S−1+init_scale) ≥ max_len   (gconv.py 186–193)
//   learnable modes: m = 1 and k̃[l] ·= (l + 1)^(−decay_h)             (gconv.py 199–200)
//   k      = k̃[:L] / ‖k̃[c, h, :]‖₀                                    (‖·‖₀: the norm of the untruncated
//            kernel at initialisation, a buffer; gconv.py 202–220)
//   y = GELU(fftconv(u, k[0], k[1], D))  (S4's bidirectional convention: k[1][j] multiplies u[t + 1 + j])
//   y = Dropout(y) (untied: nn.Dropout, the S4 backbone runs transposed=False), then
//   GLU(Linear_H→2H(y)) → [B, L, H]                                    (postact: glu in every LRA recipe)
//   m_h = linspace(decay_min, decay_max, H)[h] (buffer "multiplier"); decay_h ~ U(decay_min, decay_max)
//   (buffer "decay": the recipes' only learnable mode is cat_randn_learnable_fixed, whose decay is frozen).
//
// Initialisation: W_i ~ N(0, 1) (randn modes) or W_i[c, h, :] = cos(linspace(0, 2π·p_i(h), d_k)) with p_i
// a random permutation of the channels per scale, the same for both directions (cos); D ~ N(0, 1); the output
// Linear with PyTorch's default U(±1/√H). The kernel norm is measured at construction from the initial W_i,
// the value gconv.py measures at its first forward.
// Parameter groups: the W_i are in group "ssm_decay" (the ssm lr, and the global weight decay: the
// reference's kernel._optim sets lr only) or, with kernel_decay = false, "ssm" (no weight decay).
// Only [C, H, L]-sized tensors (the kernel) besides the activations: nothing grows with H·d_k·L.
// Cost: O(C·H·L) for the kernel (interpolation, concat, scaling), O(B·H·L log L) for the convolution,
// O(B·L·H²) for the output Linear; parameters C·H·d_k·S, logarithmic in L.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "models/layers.h"
#include "models/mixer.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/fftconv/fftconv.h"
#include "ops/interp/interp.h"
#include "ops/matmul/matmul.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct SGConvOptions {
  int kernel_dim = 64;
  int init_scale = 0;
  int n_scales = 0;
  std::string mode = "cat_randn";
  double decay_min = 1.0, decay_max = 4.0;
  bool bidirectional = false;
  bool kernel_decay = true;

  void visit(MixerOptions& o) {
    o.integer("kernel_dim", kernel_dim, "taps per sub-kernel d_k (gconv.py kernel_dim)");
    o.integer("init_scale", init_scale, "every sub-kernel is stretched 2^init_scale times more");
    o.integer("n_scales", n_scales, "number of sub-kernels (0: 1 + ceil(log2(max_len / d_k)) - init_scale)");
    o.choice("mode", mode, {"cat_randn", "cat_randn_learnable_fixed", "cat_cos"},
             "sub-kernel init (randn or cos) and decay (multiplier^(S-1-i) per scale, or the fixed (l+1)^-decay)");
    o.number("decay_min", decay_min, "smallest per-channel decay (multiplier or exponent)");
    o.number("decay_max", decay_max, "largest per-channel decay");
    o.flag("bidirectional", bidirectional, "a second kernel for the anti-causal side (S4's convention)");
    o.flag("kernel_decay", kernel_decay,
           "sub-kernels keep the global weight decay (group ssm_decay); false: group ssm, no weight decay");
  }
};

class SGConvMixer : public Mixer {
 public:
  SGConvMixer(const MixerConfig& c, const SGConvOptions& o, Generator& gen)
      : H_(c.width), max_len_(c.max_len), dropout_(c.dropout), bidirectional_(o.bidirectional),
        learnable_(o.mode == "cat_randn_learnable_fixed") {
    LRA_CHECK(o.kernel_dim >= 1, "sgconv: kernel_dim must be >= 1, got ", o.kernel_dim);
    LRA_CHECK(o.init_scale >= 0, "sgconv: init_scale must be >= 0, got ", o.init_scale);
    LRA_CHECK(o.n_scales >= 0, "sgconv: n_scales must be >= 0 (0: derived from max_len), got ", o.n_scales);
    LRA_CHECK(o.decay_min <= o.decay_max, "sgconv: need decay_min <= decay_max, got ", o.decay_min, " and ",
              o.decay_max);
    const int64_t dk = o.kernel_dim, C = bidirectional_ ? 2 : 1;
    // gconv.py 113 with Python's float log2 and ceil; a kernel_dim longer than max_len would give no scale
    // there (an empty torch.cat), here one.
    int64_t S = o.n_scales > 0 ? o.n_scales
                               : 1 + int64_t(std::ceil(std::log2(double(max_len_) / double(dk)))) - o.init_scale;
    S = std::max<int64_t>(S, 1);
    LRA_CHECK(S - 1 + o.init_scale <= 40, "sgconv: ", S, " scales of ", dk, " taps overflow the kernel length");
    int64_t offset = 0;
    for (int64_t i = 0; i < S; ++i) {
      Scale s;
      s.factor = int64_t(1) << (std::max<int64_t>(0, i - 1) + o.init_scale);
      s.offset = offset;
      s.power = S - 1 - i;
      offset += dk * s.factor;
      scales_.push_back(s);
    }
    full_len_ = offset;  // d_k·2^(S−1+init_scale)

    const std::string group = o.kernel_decay ? "ssm_decay" : "ssm";
    for (int64_t i = 0; i < S; ++i) {
      Tensor w = Tensor::empty({C, H_, dk});
      if (o.mode == "cat_cos") {
        std::vector<int64_t> perm = gen.permutation(H_);
        std::vector<float> v(size_t(C * H_ * dk));
        for (int64_t cc = 0; cc < C; ++cc)
          for (int64_t h = 0; h < H_; ++h)
            for (int64_t t = 0; t < dk; ++t) {
              double end = 2.0 * kPi * double(perm[size_t(h)]);
              double x = dk == 1 ? 0.0 : end * double(t) / double(dk - 1);
              v[size_t((cc * H_ + h) * dk + t)] = float(std::cos(x));
            }
        w = Tensor::from_vector(v, {C, H_, dk});
      } else {
        nn::init::normal(w, gen, 0.0, 1.0);
      }
      kernels_.push_back(register_parameter("kernel_" + std::to_string(i), w, nn::ParamKind::Weight, group));
    }
    Tensor D = Tensor::empty({H_});
    nn::init::normal(D, gen, 0.0, 1.0);
    D_ = register_parameter("D", D);
    if (learnable_) {
      Tensor decay = Tensor::empty({H_});
      nn::init::uniform(decay, gen, o.decay_min, o.decay_max);
      decay_ = register_buffer("decay", decay);
    } else {
      std::vector<float> m(static_cast<size_t>(H_));
      for (int64_t h = 0; h < H_; ++h)
        m[size_t(h)] = float(H_ == 1 ? o.decay_min
                                     : o.decay_min + (o.decay_max - o.decay_min) * double(h) / double(H_ - 1));
      multiplier_ = register_buffer("multiplier", Tensor::from_vector(m, {H_}));
    }
    // The fixed norm: the untruncated kernel at initialisation (gconv.py measures it at the first forward,
    // before any update, so it is the same value).
    {
      autograd::NoGrad no_grad;
      Tensor k = ops::cast(assemble(full_len_, Tensor()), DType::F64);
      std::vector<double> kv = k.to_vector<double>();
      std::vector<float> norm(size_t(C * H_));
      for (int64_t r = 0; r < C * H_; ++r) {
        double s = 0;
        for (int64_t l = 0; l < full_len_; ++l) s += kv[size_t(r * full_len_ + l)] * kv[size_t(r * full_len_ + l)];
        norm[size_t(r)] = float(std::sqrt(s));
      }
      kernel_norm_ = register_buffer("kernel_norm", Tensor::from_vector(norm, {C, H_}));
    }
    out_weight_ = register_parameter("out_weight", torch_default_init({2 * H_, H_}, H_, gen));
    out_bias_ = register_parameter("out_bias", torch_default_init({2 * H_}, H_, gen), nn::ParamKind::Bias);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    check_mixer_input(x, H_, max_len_, "sgconv");
    const int64_t L = x.dim(1);
    Tensor u = ops::transpose(zero_padding(x, key_mask), 1, 2);  // [B, H, L]
    const int64_t Lk = std::min(full_len_, L);
    Tensor k = kernel(Lk, x);  // [C, H, Lk]
    Tensor kc = ops::reshape(ops::slice(k, 0, 0, 1), {H_, Lk});
    Tensor ka = bidirectional_ ? ops::reshape(ops::slice(k, 0, 1, 2), {H_, Lk}) : Tensor();
    ops::FFTConvOptions opts;
    opts.anti = bidirectional_ ? ops::AntiCausal::FromLag1 : ops::AntiCausal::None;
    Tensor y = ops::gelu(ops::fftconv(u, kc, ka, D_, opts));
    y = ops::dropout(y, dropout_, gen, training());  // nn.Dropout: untied (gconv.py 92 with transposed=False)
    y = ops::linear(ops::transpose(y, 1, 2), out_weight_, out_bias_);  // [B, L, 2H]
    return ops::glu(y, -1);
  }

  std::vector<MixerKernel> materialized_kernels(int64_t L) override {
    autograd::NoGrad no_grad;
    const int64_t Lk = std::min(full_len_, L);
    Tensor k = kernel(Lk, Tensor());
    std::vector<MixerKernel> out{mixer_kernel("causal", false, 0, ops::reshape(ops::slice(k, 0, 0, 1), {H_, Lk}))};
    if (bidirectional_)
      out.push_back(mixer_kernel("anti-causal", true, 1, ops::reshape(ops::slice(k, 0, 1, 2), {H_, Lk})));
    return out;
  }

 private:
  struct Scale {
    int64_t factor, offset, power;
  };

  // The normalised kernel forward() convolves with, [C, H, Lk] (C = 2 when bidirectional).
  Tensor kernel(int64_t Lk, const Tensor& like) {
    const int64_t C = bidirectional_ ? 2 : 1;
    return ops::div(assemble(Lk, like), ops::reshape(kernel_norm_, {C, H_, 1}));
  }

  // The first Lk taps of the concatenated, decayed kernel k̃ [C, H, Lk] (before the norm). Scales that
  // start at or past Lk are skipped: truncation would drop them. `like` (when defined) gives the device
  // for the cached log table of the learnable mode.
  Tensor assemble(int64_t Lk, const Tensor& like) {
    std::vector<Tensor> segs;
    Tensor power;  // m^(S−1−i) as [1, H, 1], built up from the last scale (power 0) backwards
    std::vector<Tensor> powers(scales_.size());
    if (!learnable_) {
      Tensor m = ops::reshape(multiplier_, {1, H_, 1});
      for (size_t j = scales_.size(); j-- > 0;) {
        if (scales_[j].power == 0) continue;
        power = power.defined() ? ops::mul(power, m) : m;
        powers[j] = power;
      }
    }
    for (size_t i = 0; i < scales_.size() && scales_[i].offset < Lk; ++i) {
      Tensor seg = ops::upsample_linear(kernels_[i], scales_[i].factor);
      if (powers[i].defined()) seg = ops::mul(seg, powers[i]);
      segs.push_back(seg);
    }
    Tensor k = segs.size() == 1 ? segs[0] : ops::concat(segs, -1);
    if (k.dim(2) > Lk) k = ops::slice(k, -1, 0, Lk);
    if (learnable_) {
      // (l + 1)^(−decay_h) = exp(−decay_h · log(l + 1)), [H, Lk]
      Tensor logs = log_positions(Lk, like.defined() ? like : decay_);
      Tensor e = ops::mul(ops::scale(ops::reshape(decay_, {H_, 1}), -1.0), logs);
      k = ops::mul(k, ops::exp_plus(e, 0.0));
    }
    return k;
  }

  // log(l + 1) for l < Lk as [1, Lk], on `like`'s device and in its dtype (a fixed table, cached).
  Tensor log_positions(int64_t Lk, const Tensor& like) {
    if (!log_table_.defined() || log_table_.device() != like.device() || log_table_.dtype() != like.dtype()) {
      std::vector<double> v(static_cast<size_t>(full_len_));
      for (int64_t l = 0; l < full_len_; ++l) v[size_t(l)] = std::log(double(l + 1));
      Tensor t = Tensor::from_vector(v, {1, full_len_});
      if (like.dtype() != DType::F64) t = ops::cast(t, like.dtype());
      log_table_ = t.to(like.device());
    }
    return Lk == full_len_ ? log_table_ : ops::slice(log_table_, -1, 0, Lk);
  }

  int64_t H_, max_len_, full_len_ = 0;
  double dropout_;
  bool bidirectional_, learnable_;
  std::vector<Scale> scales_;
  std::vector<Tensor> kernels_;
  Tensor D_, decay_, multiplier_, kernel_norm_, out_weight_, out_bias_;
  Tensor log_table_;
};

}  // namespace

LRA_REGISTER_MIXER(sgconv, SGConvOptions, "sgconv",
                   "SGConv: multi-scale kernel (sub-kernels linearly upsampled 2^i, decayed, concatenated, "
                   "normalised), FFT long conv, GELU, GLU",
                   "O(H·L log L) per sequence, kernel O(H·L), params O(H·d_k·log L)",
                   [](const MixerConfig& c, const SGConvOptions& o, Generator& g) -> std::shared_ptr<Mixer> {
                     return std::make_shared<SGConvMixer>(c, o, g);
                   });

}  // namespace lra::models
