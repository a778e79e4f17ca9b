// Reformer: LSH self-attention (Kitaev, Kaiser & Levskaya 2020, "Reformer: The Efficient Transformer") as
// the LRA code computes it (google-research/long-range-arena, lra_benchmarks/models/reformer/
// reformer_attention.py: ReformerAttention, lsh_attention_single_head, hash_vectors; reformer.py:
// ReformerBlock). Every default below is that code's behaviour, quirks included; each quirk has an option
// that gives the paper's mechanism instead (docs/models/reformer.md).
//
// x [B, L, D], H heads of d = D/H channels (LRA forces the attention width to D: qkv_dim is ignored):
//   pad    L → Lp = L + chunk_len − (L mod chunk_len) zero rows (always at least one; a whole extra
//          chunk_len when chunk_len divides L), after the block's LayerNorm, before the projections
//   q = xp·W_qᵀ, v = xp·W_vᵀ      W_q, W_v [D, D] (flax DenseGeneral to (H, d): Xavier-uniform over fan_in D,
//                                 fan_out D, no bias); shared QK: the keys ARE q (not length-normalised)
//   hash   per head, n_hashes rounds a of n_buckets buckets, with fixed rotations W [d, n_hashes, n_buckets/2]:
//          bucket_a(t) = a·n_buckets + argmax [q_t·W_a, −q_t·W_a]               (ops::lsh_buckets)
//   sort   the n_hashes·Lp (round, bucket, position) keys by a stable argsort; gather q and v into that order
//   attend the sorted sequence cut into n_hashes·n_buckets chunks of C = Lp/n_buckets rows; every row
//          attends to its chunk and the previous one (wrapping), logits scale·q_i·q_j
//          (ops::lsh_chunk_attention), giving o and lse per sorted row
//   unsort gather back; the rounds combine as out_t = Σ_a softmax_a(lse_a(t)) · o_a(t)
//   merge  [B, H, Lp, d] → [B, Lp, D], sliced to L
// LRA's quirks (the defaults):
//   scale = "sqrt_d"       logits MULTIPLIED by √d (LRA: `* (qdim ** 0.5)`); "inverse": 1/√d (the paper)
//   self_mask = false      LRA never masks a query's own key; true: the paper's rule, own position −1e5
//                          ("only if nothing else"), trax's value
//   mask_padding = false   LRA ignores the padding mask (and its own padded rows are keys with q = v = 0);
//                          true: pad tokens and added rows are masked keys (−1e9, trax's value)
//   head_merge = "reshape" LRA reshapes [B, H, Lp, d] to [B, Lp, D] without moving the head axis, so row t
//                          holds heads of positions tH..tH+H−1; "transpose": the usual head concatenation
//   out_proj = false       LRA has no output projection; true: an output Linear D → D (Xavier, no bias)
//   hash_seed = 0          the rotations are N(0, 1) drawn once from Generator(hash_seed), so every layer
//                          has the same ones and they never change (LRA: a key split from PRNGKey(0) in
//                          every layer, every step, train and eval); −1: drawn per layer from the init
//                          generator. Stored as the buffer "rotations" (checkpoints, the parity dump).
// Not in LRA's code (so not here): attention dropout (accepted by LRA and never applied), a causal mask
// (a TODO there), n_hashes/n_buckets/chunk_len settings in any config (LRA: 1, 10, 10 on every task).
// Cost: with n_buckets fixed, chunks grow with L: C = Lp/n_buckets, so the attention is
// 2·n_hashes·Lp·(2C)·D = 4·n_hashes·Lp²·D/n_buckets multiply-adds — quadratic, a fifth of full attention at
// LRA's 10 buckets. Memory O(n_hashes·L·D): sorted copies of q, v and the output (nothing L×L).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "models/layers.h"
#include "models/mixer.h"
#include "ops/gather/gather.h"
#include "ops/lsh/lsh.h"
#include "ops/matmul/matmul.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/shape_ops.h"
#include "ops/softmax/softmax.h"
#include "ops/sort/sort.h"
#include "ops/elementwise/elementwise.h"

namespace lra::models {
namespace {

struct ReformerOptions {
  int heads = 8;
  int n_hashes = 1;
  int n_buckets = 10;
  int chunk_len = 10;
  std::string scale = "sqrt_d";
  bool self_mask = false;
  bool mask_padding = false;
  std::string head_merge = "reshape";
  bool out_proj = false;
  int hash_seed = 0;

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H (head dim D/H: LRA ignores qkv_dim)");
    o.integer("n_hashes", n_hashes, "hash rounds");
    o.integer("n_buckets", n_buckets, "buckets per round (even); also the number of chunks per round");
    o.integer("chunk_len", chunk_len, "L is padded by chunk_len - L mod chunk_len rows (a multiple of n_buckets)");
    o.choice("scale", scale, {"sqrt_d", "inverse"}, "logits times sqrt(d) (LRA's code) or 1/sqrt(d) (the paper)");
    o.flag("self_mask", self_mask, "a query attends to its own position only when alone (the paper; LRA: off)");
    o.flag("mask_padding", mask_padding, "pad tokens and added rows are masked keys (LRA: off)");
    o.choice("head_merge", head_merge, {"reshape", "transpose"},
             "[B,H,L,d] to [B,L,D]: LRA's plain reshape (heads land in other rows) or the usual transpose");
    o.flag("out_proj", out_proj, "an output projection D -> D (LRA: none)");
    o.integer("hash_seed", hash_seed, "rotations from Generator(hash_seed), the same in every layer (-1: per layer)");
  }
};

class ReformerMixer : public Mixer {
 public:
  ReformerMixer(const MixerConfig& c, const ReformerOptions& o, Generator& init)
      : D_(c.width), H_(o.heads), nh_(o.n_hashes), nb_(o.n_buckets), chunk_len_(o.chunk_len),
        max_len_(c.max_len), self_mask_(o.self_mask), mask_padding_(o.mask_padding),
        transpose_merge_(o.head_merge == "transpose") {
    LRA_CHECK(o.heads > 0 && D_ % o.heads == 0, "reformer: the width ", D_, " must be a positive multiple of heads ",
              o.heads, " (LRA's attention width is the model width)");
    LRA_CHECK(o.n_hashes >= 1, "reformer: n_hashes = ", o.n_hashes, " must be >= 1");
    LRA_CHECK(o.n_buckets >= 2 && o.n_buckets % 2 == 0, "reformer: n_buckets = ", o.n_buckets,
              " must be even and >= 2 (argmax over [xR, -xR])");
    LRA_CHECK(o.chunk_len >= 1 && o.chunk_len % o.n_buckets == 0, "reformer: chunk_len = ", o.chunk_len,
              " must be a positive multiple of n_buckets = ", o.n_buckets,
              " (the padded length is cut into n_buckets chunks per round)");
    LRA_CHECK(o.hash_seed >= -1, "reformer: hash_seed = ", o.hash_seed, " must be >= 0, or -1 (per layer)");
    const int64_t d = D_ / H_;
    scale_ = o.scale == "sqrt_d" ? std::sqrt(double(d)) : 1.0 / std::sqrt(double(d));
    query_ = register_module("query", std::make_shared<Linear>(D_, D_, init, LinearInit::XavierUniform, false));
    value_ = register_module("value", std::make_shared<Linear>(D_, D_, init, LinearInit::XavierUniform, false));
    if (o.out_proj)
      out_ = register_module("out", std::make_shared<Linear>(D_, D_, init, LinearInit::XavierUniform, false));
    Tensor rot = Tensor::empty({d, nh_, nb_ / 2}, DType::F32);
    if (o.hash_seed >= 0) {
      Generator fixed(uint64_t(o.hash_seed));
      nn::init::normal(rot, fixed);
    } else {
      nn::init::normal(rot, init);
    }
    rotations_ = register_buffer("rotations", rot);
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator&) override {
    check_mixer_input(x, D_, max_len_, "reformer");
    const int64_t B = x.dim(0), L = x.dim(1), H = H_, d = D_ / H_, nh = nh_;
    const int64_t Lp = L + chunk_len_ - L % chunk_len_, R = B * H;
    Tensor xp = ops::pad(x, 1, 0, Lp - L);
    auto heads = [&](const Tensor& t) {  // [B, Lp, D] -> [B·H, Lp, d]
      return ops::reshape(ops::permute(ops::reshape(t, {B, Lp, H, d}), {0, 2, 1, 3}), {R, Lp, d});
    };
    Tensor q = heads(query_->forward(xp)), v = heads(value_->forward(xp));

    Tensor sticker, undo;  // the sort of each row by (round, bucket, position), and its inverse
    {
      autograd::NoGrad no_grad;
      Tensor rot = ops::matmul(q.detach(), ops::reshape(rotations_, {d, nh * (nb_ / 2)}));  // [R, Lp, nh·nb/2]
      sticker = ops::argsort(ops::lsh_buckets(rot, nh));                                    // [R, nh·Lp]
      undo = ops::argsort(sticker);
    }
    auto rounds = [&](const Tensor& t) { return nh == 1 ? t : ops::concat(std::vector<Tensor>(size_t(nh), t), 1); };
    Tensor sq = ops::gather(rounds(q), 1, sticker), sv = ops::gather(rounds(v), 1, sticker);  // [R, nh·Lp, d]

    ops::LshAttentionOptions o;
    o.chunk = Lp / nb_;
    o.scale = scale_;
    o.self_mask = self_mask_;
    Tensor perm, mask;
    if (self_mask_ || mask_padding_) {
      perm = sticker;
      o.period = Lp;
    }
    // Positions >= L (the added rows) are outside the mask, so masked too.
    if (mask_padding_) mask = key_mask.defined() ? key_mask : Tensor::ones({B, L}, DType::I32, x.device());
    Tensor y = ops::gather(ops::lsh_chunk_attention(sq, sq, sv, o, perm, mask), 1, undo);  // [R, nh·Lp, d + 1]

    std::vector<Tensor> parts = ops::split(y, {d, 1}, 2);
    Tensor out = parts[0];  // [R, nh·Lp, d]
    if (nh > 1) {
      // Each round's output weighted by its share of the total attention mass: softmax over rounds of lse.
      Tensor lse = ops::transpose(ops::reshape(parts[1], {R, nh, Lp}), 1, 2);          // [R, Lp, nh]
      Tensor w = ops::reshape(ops::transpose(ops::softmax(lse), 1, 2), {R, nh, Lp, 1});  // [R, nh, Lp, 1]
      out = ops::sum(ops::mul(ops::reshape(out, {R, nh, Lp, d}), w), 1);               // [R, Lp, d]
    }
    // With one round the weight is exactly 1 (and its gradient 0): out is the round's output as it is.
    out = ops::reshape(out, {B, H, Lp, d});
    out = transpose_merge_ ? ops::reshape(ops::permute(out, {0, 2, 1, 3}), {B, Lp, D_})
                           : ops::reshape(out, {B, Lp, D_});  // LRA: heads of positions tH.. in row t
    out = ops::slice(out, 1, 0, L);
    return out_ ? out_->forward(out) : out;
  }

 private:
  int64_t D_, H_, nh_, nb_, chunk_len_, max_len_;
  bool self_mask_, mask_padding_, transpose_merge_;
  double scale_ = 1;
  std::shared_ptr<Linear> query_, value_, out_;
  Tensor rotations_;
};

}  // namespace

LRA_REGISTER_MIXER(reformer, ReformerOptions, "reformer",
                   "LSH attention as LRA's code: shared QK, random-rotation buckets, stable sort, chunks attend "
                   "to themselves and the previous chunk, rounds combined by logsumexp",
                   "O(n_hashes L^2 D / n_buckets)",
                   [](const MixerConfig& c, const ReformerOptions& o, Generator& g) {
                     return std::make_shared<ReformerMixer>(c, o, g);
                   });

}  // namespace lra::models
