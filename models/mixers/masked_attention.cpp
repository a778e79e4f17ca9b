// The layer of masked_attention.h.
#include "models/mixers/masked_attention.h"

#include <cmath>

#include "ops/shape/shape_ops.h"

namespace lra::models {

MaskedAttention::MaskedAttention(const MixerConfig& c, int heads, int qkv_dim, double attention_dropout,
                                 const ops::AttentionOptions& structure, std::string mixer, Generator& init)
    : H_(heads), D_(c.width), Q_(attention_width(mixer, c.width, heads, qkv_dim)),
      max_len_(c.max_len), dropout_(attention_dropout),
      structure_(structure), mixer_(std::move(mixer)) {
  LRA_CHECK(attention_dropout >= 0 && attention_dropout < 1, mixer_, ": attention_dropout ", attention_dropout,
            " is not in [0, 1)");
  query_ = register_module("query", std::make_shared<Linear>(c.width, int(Q_), init, LinearInit::XavierUniform, false));
  key_ = register_module("key", std::make_shared<Linear>(c.width, int(Q_), init, LinearInit::XavierUniform, false));
  value_ = register_module("value", std::make_shared<Linear>(c.width, int(Q_), init, LinearInit::XavierUniform, false));
  out_ = register_module("out", std::make_shared<Linear>(int(Q_), c.width, init, LinearInit::XavierUniform, false));
}

Tensor MaskedAttention::forward(const Tensor& x, const Tensor& key_mask, Generator& gen) {
  check_mixer_input(x, D_, max_len_, mixer_.c_str());
  const int64_t B = x.dim(0), L = x.dim(1), d = Q_ / H_;
  auto heads = [&](const Tensor& t) { return ops::permute(ops::reshape(t, {B, L, H_, d}), {0, 2, 1, 3}); };
  ops::AttentionOptions o = structure_;
  if (training()) ops::set_attention_dropout(o, dropout_, gen, B, H_, L);
  Tensor out = attention_any_head_dim(heads(query_->forward(x)), heads(key_->forward(x)), heads(value_->forward(x)),
                                      key_mask, o);  // [B, H, L, d]
  return out_->forward(ops::reshape(ops::permute(out, {0, 2, 1, 3}), {B, L, Q_}));
}

Tensor attention_any_head_dim(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                              ops::AttentionOptions o) {
  const int64_t d = q.dim(3);
  if (q.device() == Device::CPU || d == 32 || d == 64 || d == 128 || d > 128) return ops::attention(q, k, v, key_mask, o);
  const int64_t padded = d < 32 ? 32 : d < 64 ? 64 : 128;
  if (o.scale == 0) o.scale = 1.0 / std::sqrt(double(d));
  auto pad = [&](const Tensor& t) { return ops::pad(t, 3, 0, padded - d); };
  return ops::slice(ops::attention(pad(q), pad(k), pad(v), key_mask, o), 3, 0, d);
}

}  // namespace lra::models
