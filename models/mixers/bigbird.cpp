// bigbird: BigBird's block-sparse attention (Zaheer et al., "Big Bird: Transformers for Longer Sequences",
// NeurIPS 2020), the ITC layout as LRA runs it. Reference code: google-research/long-range-arena,
// lra_benchmarks/models/bigbird/bigbird_attention.py (BigBirdAttention, sparse_dot_product_attention,
// band_start_block_rand_multi_attention_pad, get_block_rand_mask) and bigbird.py (the block: bias=False,
// Xavier kernels, connectivity_seed = the layer index). docs/models/bigbird.md has the layout, the costs
// and LRA's quirks.
//
// x [B, L, D], attention width Q (qkv_dim, default D), H heads of d = Q/H, block C (block, 64), r random
// blocks (random_blocks, 3):
//   q, k, v = x · W_qᵀ, x · W_kᵀ, x · W_vᵀ   three Linear(D → Q), Xavier(D, Q), no bias (LRA: three
//                                           DenseGeneral(features=(H, d)), bias=False)
//   y = out(attention) with out = Linear(Q → D), Xavier(Q, D), no bias
// Padding (padding = lra, default, as LRA): L is padded by C − (L mod C) zero rows (a whole block when C
// divides L) to Lp = nb·C, and the padded tail is NOT masked (LRA pads its boolean mask with −1e9, which
// becomes True): its keys have k = 0 (no bias), so logit 0, and v = 0. padding = masked is the mechanism
// without that quirk: pad to the next multiple of C only, and mask the padded keys.
// m [B, Lp] is the key mask (1 = real; the tail 1 under lra, 0 under masked).
// Query block i attends to the key blocks
//   i = 0 and i = nb−1 (global): every key;
//   i = 1 .. nb−2: {0, i−1, i, i+1, nb−1} (4 distinct blocks at the edges i = 1, nb−2) + the r random
//                  blocks of row i (bigbird.h: numpy's RandomState(layer), per head, fixed for the layer);
// each query block with its own softmax over its keys, of logits q·kᵀ/√d + (m_key − 1)·10000 (LRA's
// additive mask). The output is multiplied by m at the query (LRA's seq_m_pad: padded queries give 0),
// the padded tail cut off. LRA also multiplies the band and random logits by the query's mask; that
// changes only rows the query mask then zeroes, so the key mask alone gives the same output. No
// attention dropout: LRA's sparse path has none (its dropout_rate reaches only the causal fallback).
//
// Computation (nothing L×L; autograd through existing ops):
//   global rows: q of blocks 0 and nb−1 [B, H, 2C, d] against all Lp keys: matmul, softmax, matmul.
//   other rows:  per (head, row) a fixed list of kb = 5 + r key blocks (slots past a row's blocks are
//                excluded with −1e30, i.e. weight exactly 0), gathered from k and v viewed as
//                [B·H·nb, C·d] by ops::embedding (a row gather whose backward is a scatter-add) into
//                [B, H, nb−2, kb·C, d]; logits [B, H, nb−2, C, kb·C], softmax, weighted sum.
// Cost per layer (forward): 4·B·H·Lp·C·d·(kb + 2) FLOPs = O(L·C·(7 + r)·Q); memory O(B·H·Lp·C·kb) for the
// logits plus 2·kb copies of k, v in the gathers.
#include "models/mixers/bigbird.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "engine/numpy_random.h"
#include "models/layers.h"
#include "models/mixer.h"
#include "ops/elementwise/elementwise.h"
#include "ops/embedding/embedding.h"
#include "ops/matmul/matmul.h"
#include "ops/shape/shape_ops.h"
#include "ops/softmax/softmax.h"

namespace lra::models {

namespace bigbird {

std::vector<std::vector<std::vector<int>>> random_blocks(int64_t nb, int64_t block, int r, int64_t span, int heads,
                                                         uint32_t seed) {
  const int64_t rows = std::max<int64_t>(nb - 2, 0);
  std::vector<std::vector<std::vector<int>>> out(static_cast<size_t>(heads),
                                                 std::vector<std::vector<int>>(static_cast<size_t>(rows)));
  if (rows == 0) return out;
  const int64_t last = span > 2 * block ? span / block - 1 : nb - 1;
  // Python's a[lo:hi] of a = [1, .., nb−2]: values lo+1 .. hi, with the bounds clipped (a negative bound
  // counts from the end, as Python does; it only arises for tiny nb).
  auto range = [&](int64_t lo, int64_t hi) {
    const int64_t n = rows;
    auto clip = [n](int64_t v) { return v < 0 ? std::max<int64_t>(v + n, 0) : std::min(v, n); };
    std::vector<int> v;
    for (int64_t j = clip(lo); j < clip(hi); ++j) v.push_back(int(j + 1));
    return v;
  };
  NumpyRandomState rs(seed);
  for (int h = 0; h < heads; ++h)
    for (int64_t i = 1; i <= nb - 2; ++i) {
      std::vector<int> cand;
      int64_t start = i - 2;
      const int64_t end = i;
      if (i == 1) {
        cand = range(2, last);
      } else if (i == 2) {
        cand = range(3, last);
      } else if (i == nb - 3) {
        cand = range(0, last - 4);
      } else if (i == nb - 2) {
        cand = range(0, last - 3);
      } else if (start > last) {
        start = last;
        cand = range(0, start);
      } else if (end + 1 == last) {
        cand = range(0, start);
      } else {
        cand = range(0, start);
        for (int v : range(end + 1, last)) cand.push_back(v);
      }
      std::vector<int> perm = rs.permutation(cand);
      std::vector<int>& row = out[size_t(h)][size_t(i - 1)];
      if (perm.size() == 1)
        row.assign(size_t(r), perm[0]);  // numpy broadcasts the single candidate into all r slots
      else
        row.assign(perm.begin(), perm.begin() + std::min<int64_t>(r, int64_t(perm.size())));
    }
  return out;
}

}  // namespace bigbird

namespace {

struct BigBirdOptions {
  int heads = 4;
  int qkv_dim = 0;  // 0: the model width
  int block = 64;
  int random_blocks = 3;
  int random_span = 1024;
  std::string padding = "lra";

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.integer("block", block, "block length C (LRA: 64)");
    o.integer("random_blocks", random_blocks, "random key blocks r per query block (LRA: 3, fixed)");
    o.integer("random_span", random_span, "random blocks come from the first this many tokens (LRA: 1024)");
    o.choice("padding", padding, {"lra", "masked"},
             "lra: C - L mod C zero rows, unmasked (LRA); masked: up to the next multiple of C, masked keys");
  }
};

class BigBirdMixer : public Mixer {
 public:
  BigBirdMixer(const MixerConfig& c, const BigBirdOptions& o, Generator& init)
      : H_(o.heads), D_(c.width), Q_(attention_width("bigbird", c.width, o.heads, o.qkv_dim)),
        C_(o.block), r_(o.random_blocks),
        span_(o.random_span), max_len_(c.max_len), layer_(c.layer), masked_pad_(o.padding == "masked") {
    LRA_CHECK(o.block >= 1, "bigbird: block = ", o.block, " must be a positive integer");
    LRA_CHECK(o.random_blocks >= 0, "bigbird: random_blocks = ", o.random_blocks, " must be >= 0");
    LRA_CHECK(o.random_span >= 1, "bigbird: random_span = ", o.random_span, " must be a positive number of tokens");
    LRA_CHECK(c.layer >= 0, "bigbird: the layer index ", c.layer, " (the random graph's seed) must be >= 0");
    const int Q = int(Q_);
    query_ = register_module("query", std::make_shared<Linear>(c.width, Q, init, LinearInit::XavierUniform, false));
    key_ = register_module("key", std::make_shared<Linear>(c.width, Q, init, LinearInit::XavierUniform, false));
    value_ = register_module("value", std::make_shared<Linear>(c.width, Q, init, LinearInit::XavierUniform, false));
    out_ = register_module("out", std::make_shared<Linear>(Q, c.width, init, LinearInit::XavierUniform, false));
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator&) override {
    check_mixer_input(x, D_, max_len_, "bigbird");
    const int64_t B = x.dim(0), L = x.dim(1), d = Q_ / H_, C = C_;
    LRA_CHECK(L >= 1, "bigbird: the sequence is empty");
    const int64_t Lp = masked_pad_ ? (L + C - 1) / C * C : L + C - L % C, nb = Lp / C;  // lra: 1 .. C rows
    auto heads = [&](const Tensor& t) {  // [B, L, Q] -> [B, H, Lp, d], zero rows appended
      return ops::pad(ops::permute(ops::reshape(t, {B, L, H_, d}), {0, 2, 1, 3}), 2, 0, Lp - L);
    };
    const Tensor q = ops::scale(heads(query_->forward(x)), 1.0 / std::sqrt(double(d)));
    const Tensor k = heads(key_->forward(x)), v = heads(value_->forward(x));
    Tensor m;  // [B, Lp] 0/1 in x's dtype (the tail 1 as LRA, or 0); undefined when nothing is masked
    if (key_mask.defined() || (masked_pad_ && Lp > L)) {
      const Tensor real =
          key_mask.defined() ? ops::cast(key_mask, x.dtype()) : Tensor::ones({B, L}, x.dtype(), x.device());
      m = ops::pad(real, 1, 0, Lp - L, masked_pad_ ? 0.0 : 1.0);
    }
    // (m − 1)·10000, LRA's additive mask.
    auto mask_bias = [](const Tensor& mm) {
      return ops::sub(ops::scale(mm, 1e4), Tensor::full(mm.shape(), 1e4, mm.dtype(), mm.device()));
    };

    // Global query blocks 0 and nb − 1 (one block when nb = 1) against every key.
    const Tensor qg = nb == 1 ? q : ops::concat({ops::slice(q, 2, 0, C), ops::slice(q, 2, Lp - C, Lp)}, 2);
    Tensor sg = ops::matmul(qg, k, false, true);  // [B, H, 2C, Lp]
    if (m.defined()) sg = ops::add(sg, ops::reshape(mask_bias(m), {B, 1, 1, Lp}));
    const Tensor og = ops::matmul(ops::softmax(sg), v);  // [B, H, 2C, d]

    Tensor out = og;
    if (nb >= 3) {
      const Layout& lay = layout(B, nb, x.dtype(), x.device());
      const int64_t kb = lay.kb, rows = nb - 2;
      auto gather = [&](const Tensor& t) {  // [B, H, Lp, d] -> [B, H, rows, kb·C, d]
        return ops::reshape(ops::embedding(lay.kv_ids, ops::reshape(t, {B * H_ * nb, C * d})),
                            {B, H_, rows, kb * C, d});
      };
      const Tensor qm = ops::reshape(ops::slice(q, 2, C, Lp - C), {B, H_, rows, C, d});
      Tensor s = ops::add(ops::matmul(qm, gather(k), false, true), lay.exclude);  // [B, H, rows, C, kb·C]
      if (m.defined()) {
        const Tensor mk = ops::embedding(lay.mask_ids, ops::reshape(m, {B * nb, C}));  // [B, H, rows, kb, C]
        s = ops::add(s, ops::reshape(mask_bias(mk), {B, H_, rows, 1, kb * C}));
      }
      const Tensor om = ops::reshape(ops::matmul(ops::softmax(s), gather(v)), {B, H_, rows * C, d});
      out = ops::concat({ops::slice(og, 2, 0, C), om, ops::slice(og, 2, C, 2 * C)}, 2);
    }
    if (m.defined()) out = ops::mul(out, ops::reshape(m, {B, 1, Lp, 1}));  // padded queries give 0
    out = ops::slice(out, 2, 0, L);
    return out_->forward(ops::reshape(ops::permute(out, {0, 2, 1, 3}), {B, L, Q_}));
  }

 private:
  // The gather indices and exclusion bias of the rows 1 .. nb−2 for a batch of B on one device and dtype:
  //   kv_ids   [B, H, nb−2, kb] int32: row b·H·nb + h·nb + block of k, v viewed as [B·H·nb, C·d];
  //   mask_ids [B, H, nb−2, kb] int32: row b·nb + block of m viewed as [B·nb, C];
  //   exclude  [1, H, nb−2, 1, kb·C]: 0 for a used slot, −1e30 for a slot past the row's blocks.
  // Slots: the fixed blocks {0, i−1, i, i+1, nb−1} in increasing order (duplicates dropped), then the
  // random ones. Built once per shape (one host-to-device copy), then reused.
  struct Layout {
    int64_t kb = 0;
    Tensor kv_ids, mask_ids, exclude;
  };
  const Layout& layout(int64_t B, int64_t nb, DType dtype, Device device) {
    const auto key = std::make_tuple(B, nb, int(dtype), int(device));
    auto it = layouts_.find(key);
    if (it != layouts_.end()) return it->second;
    const int64_t rows = nb - 2, kb = 5 + r_, C = C_;
    const auto rand = bigbird::random_blocks(nb, C, int(r_), std::min<int64_t>(nb * C, span_), int(H_),
                                             uint32_t(layer_));
    std::vector<int32_t> blocks(size_t(H_ * rows * kb), 0);
    std::vector<double> exclude(size_t(H_ * rows * kb * C), 0.0);
    for (int64_t h = 0; h < H_; ++h)
      for (int64_t i = 1; i <= rows; ++i) {
        std::vector<int> slots;
        for (int64_t blk : {int64_t(0), i - 1, i, i + 1, nb - 1})
          if (std::find(slots.begin(), slots.end(), int(blk)) == slots.end()) slots.push_back(int(blk));
        for (int blk : rand[size_t(h)][size_t(i - 1)]) slots.push_back(blk);
        const int64_t base = (h * rows + (i - 1)) * kb;
        for (int64_t s = 0; s < kb; ++s) {
          if (s < int64_t(slots.size())) {
            blocks[size_t(base + s)] = slots[size_t(s)];
          } else {
            for (int64_t c = 0; c < C; ++c) exclude[size_t((base + s) * C + c)] = -1e30;
          }
        }
      }
    std::vector<int32_t> kv(size_t(B) * blocks.size()), mk(size_t(B) * blocks.size());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H_; ++h)
        for (int64_t j = 0; j < rows * kb; ++j) {
          const size_t src = size_t(h * rows * kb + j), dst = size_t((b * H_ + h) * rows * kb + j);
          kv[dst] = int32_t((b * H_ + h) * nb + blocks[src]);
          mk[dst] = int32_t(b * nb + blocks[src]);
        }
    Layout lay;
    lay.kb = kb;
    lay.kv_ids = Tensor::from_vector(kv, {B, H_, rows, kb}).to(device);
    lay.mask_ids = Tensor::from_vector(mk, {B, H_, rows, kb}).to(device);
    const Shape ex_shape{1, H_, rows, 1, kb * C};
    lay.exclude = dtype == DType::F64 ? Tensor::from_vector(exclude, ex_shape).to(device)
                                      : ops::cast(Tensor::from_vector(exclude, ex_shape), dtype).to(device);
    return layouts_.emplace(key, std::move(lay)).first->second;
  }

  int64_t H_, D_, Q_, C_, r_, span_, max_len_, layer_;
  bool masked_pad_;
  std::shared_ptr<Linear> query_, key_, value_, out_;
  std::map<std::tuple<int64_t, int64_t, int, int>, Layout> layouts_;
};

}  // namespace

LRA_REGISTER_MIXER(bigbird, BigBirdOptions, "bigbird",
                   "BigBird block-sparse attention: window + global first/last blocks + r random blocks (block = 64)",
                   "O(L C (7 + r) D)",
                   [](const MixerConfig& c, const BigBirdOptions& o, Generator& g) {
                     return std::make_shared<BigBirdMixer>(c, o, g);
                   });

}  // namespace lra::models
