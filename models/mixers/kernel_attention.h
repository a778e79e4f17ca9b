// The part linear_transformer.cpp and performer.cpp share: multi-head attention through a feature map,
//   y_t = sum_j φ(q_t)·φ(k_j) v_j / normaliser,    normaliser_t = φ(q_t) · sum_j φ(k_j)
// (causal: j <= t), computed right to left so nothing is L×L. Each mixer builds its own features and
// finishes with its own normaliser rule (an eps added, or LRA Performer's guard); this header only does
// the products and the head plumbing.
#pragma once

#include <memory>

#include "models/layers.h"
#include "ops/elementwise/elementwise.h"
#include "ops/linear_attention/linear_attention.h"
#include "ops/matmul/matmul.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/shape_ops.h"

namespace lra::models {

// numerator [B, H, L, d] and normaliser [B, H, L, 1] of kernel attention, from features
// fq, fk [B, H, L, m] and values v [B, H, L, d].
//   non-causal: numerator = fq (fkᵀ v)   (fkᵀ v is [B, H, m, d]: 2·L·m·d FLOPs per head, twice)
//               normaliser = fq · (sum over L of fk)
//   causal:     one running-state product (ops/linear_attention) over [v | 1], whose last column is the
//               normaliser: 4·L·m·(d + 1) FLOPs per head, a state of m·(d + 1).
struct KernelAttention {
  Tensor numerator, normaliser;
};

inline KernelAttention kernel_attention(const Tensor& fq, const Tensor& fk, const Tensor& v, bool causal) {
  const int64_t d = v.dim(3);
  if (causal) {
    Tensor ones = Tensor::ones({v.dim(0), v.dim(1), v.dim(2), 1}, v.dtype(), v.device());
    Tensor y = ops::causal_linear_attention(fq, fk, ops::concat({v, ones}, 3));
    return {ops::slice(y, 3, 0, d), ops::slice(y, 3, d, d + 1)};
  }
  Tensor kv = ops::matmul(fk, v, /*trans_a=*/true);                                     // [B, H, m, d]
  Tensor ksum = ops::sum(fk, 2, /*keepdim=*/true);                                      // [B, H, 1, m]
  return {ops::matmul(fq, kv), ops::matmul(fq, ksum, false, /*trans_b=*/true)};       // [B, H, L, d], [.., 1]
}

// q, k, v projections as the LRA attention modules build them: three DenseGeneral(D -> (H, d)) layers
// ("query", "key", "value", Xavier-uniform over fan_in D and fan_out Q = H·d, no bias) and the output
// DenseGeneral((H, d) -> D) ("out", Xavier over Q and D, no bias).
struct HeadProjections {
  std::shared_ptr<Linear> query, key, value, out;
  int64_t H = 1, Q = 1;

  // [B, L, Q] -> [B, H, L, d]
  Tensor heads(const Tensor& t) const {
    const int64_t B = t.dim(0), L = t.dim(1);
    return ops::permute(ops::reshape(t, {B, L, H, Q / H}), {0, 2, 1, 3});
  }
  // [B, H, L, d] -> [B, L, D]
  Tensor merge(const Tensor& y) const {
    const int64_t B = y.dim(0), L = y.dim(2);
    return out->forward(ops::reshape(ops::permute(y, {0, 2, 1, 3}), {B, L, Q}));
  }
};

// The four layers, not yet registered: the mixer registers them under the names above (register_module
// is the module's own business).
inline HeadProjections make_head_projections(int width, int heads, int qkv_dim, Generator& init, const char* mixer) {
  HeadProjections p;
  p.H = heads;
  p.Q = attention_width(mixer, width, heads, qkv_dim);
  const int Q = int(p.Q);
  p.query = std::make_shared<Linear>(width, Q, init, LinearInit::XavierUniform, false);
  p.key = std::make_shared<Linear>(width, Q, init, LinearInit::XavierUniform, false);
  p.value = std::make_shared<Linear>(width, Q, init, LinearInit::XavierUniform, false);
  p.out = std::make_shared<Linear>(Q, width, init, LinearInit::XavierUniform, false);
  return p;
}

// fk with the features of padded keys zeroed (key_mask [B, L], 1 = real token), for mask_keys = true.
inline Tensor mask_key_features(const Tensor& fk, const Tensor& key_mask) {
  if (!key_mask.defined()) return fk;
  Tensor m = ops::cast(key_mask, fk.dtype()).view({fk.dim(0), 1, fk.dim(2), 1});
  return ops::mul(fk, m);
}

}  // namespace lra::models
