// Linear Transformer (Katharopoulos et al. 2020, "Transformers are RNNs"), as the LRA code builds it:
// google-research/long-range-arena, lra_benchmarks/models/linear_transformer/linear_attention.py
// (linear_attention, LinearAttention) inside linear_transformer.py (LinearTransformerBlock).
//
//   φ(x) = elu(x) + 1                                       (elementwise, > 0)
//   y_t  = φ(q_t)ᵀ (sum_j φ(k_j) v_jᵀ) / (φ(q_t) · sum_j φ(k_j) + eps)      eps = 1e-6, per head
//
// with q, k, v from three Xavier-uniform DenseGeneral(D -> (H, d)) layers without bias and the output
// DenseGeneral((H, d) -> D) likewise (LinearTransformerBlock passes bias=False). No 1/sqrt(d) scale
// (the feature map replaces the softmax), no attention dropout (LRA's linear_attention discards its
// dropout arguments: "TODO: figure out how to apply attention dropout").
//
// Padding: LRA's linear_attention receives no mask at all (the block's padding_mask only reaches an
// unused branch), so padded keys contribute φ(k) and v like real ones. mask_keys = false (default)
// reproduces that; mask_keys = true zeroes the padded keys' features, so they drop out of both the
// numerator and the normaliser.
// causal = true (LRA accepts causal_mask but ignores it) sums over j <= t only, through the running-state
// op ops/linear_attention (state [d, d + 1] per head).
//
// Cost per head, L positions, head dim d: 4·L·d² FLOPs non-causal (fkᵀv, then fq times it), 4·L·d·(d+1)
// causal; memory O(L·d) per head plus the [d, d] product: linear in L, nothing L×L.
#include "models/mixer.h"
#include "models/mixers/kernel_attention.h"

namespace lra::models {
namespace {

struct LinearTransformerOptions {
  int heads = 4;
  int qkv_dim = 0;  // 0: the model width
  bool causal = false;
  double eps = 1e-6;
  bool mask_keys = false;

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.flag("causal", causal, "causal linear attention (running state; LRA ignores its causal flag)");
    o.number("eps", eps, "added to the normaliser (LRA: 1e-6)");
    o.flag("mask_keys", mask_keys, "zero the features of padded keys (LRA does not mask them)");
  }
};

class LinearTransformerMixer : public Mixer {
 public:
  LinearTransformerMixer(const MixerConfig& c, const LinearTransformerOptions& o, Generator& init)
      : o_(o), D_(c.width) {
    LRA_CHECK(o.eps >= 0, "linear_transformer: eps = ", o.eps, " must be >= 0");
    p_ = make_head_projections(c.width, o.heads, o.qkv_dim, init, "linear_transformer");
    register_module("query", p_.query);
    register_module("key", p_.key);
    register_module("value", p_.value);
    register_module("out", p_.out);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator&) override {
    LRA_CHECK(x.ndim() == 3 && x.dim(2) == D_, "linear_transformer: x must be [B, L, ", D_, "], got ", x.describe());
    Tensor fq = p_.heads(ops::elu(p_.query->forward(x), 1.0));  // [B, H, L, d]
    Tensor fk = p_.heads(ops::elu(p_.key->forward(x), 1.0));
    Tensor v = p_.heads(p_.value->forward(x));
    if (o_.mask_keys) fk = mask_key_features(fk, key_mask);
    KernelAttention a = kernel_attention(fq, fk, v, o_.causal);
    Tensor eps = Tensor::full({1}, o_.eps, a.normaliser.dtype(), a.normaliser.device());
    return p_.merge(ops::div(a.numerator, ops::add(a.normaliser, eps)));
  }

 private:
  LinearTransformerOptions o_;
  int64_t D_;
  HeadProjections p_;
};

}  // namespace

LRA_REGISTER_MIXER(linear_transformer, LinearTransformerOptions, "linear_transformer",
                   "linear attention with elu(x)+1 features: phi(q) (phi(k)^T v) / (phi(q) . sum phi(k) + eps)",
                   "O(L D d)", [](const MixerConfig& c, const LinearTransformerOptions& o, Generator& g) {
                     return std::make_shared<LinearTransformerMixer>(c, o, g);
                   });

}  // namespace lra::models
