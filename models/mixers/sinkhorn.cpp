// sinkhorn: Sparse Sinkhorn attention (Tay, Bahri, Yang, Metzler, Juan, "Sparse Sinkhorn Attention",
// ICML 2020) in two variants. Reference code: google-research/long-range-arena,
// lra_benchmarks/models/sinkhorn_transformer/sinkhorn_attention.py (SinkhornAttention) and
// sinkhorn_transformer.py (the block: bias=False, Xavier kernels). docs/models/sinkhorn.md has the
// derivation of the LRA variant from that code, the costs, and the quirks we keep or fix.
//
// Shared: x [B, L, D], attention width Q (qkv_dim, default D), H heads of d = Q/H, block C (block).
//   q, k, v = x · W_qᵀ, x · W_kᵀ, x · W_vᵀ   three Linear(D → Q), Xavier(D, Q), no bias (LRA: three
//                                           DenseGeneral(features=(H, d)))
//   y = out(attention) with out = Linear(Q → D), Xavier(Q, D), no bias
// L is padded to Lp = nb·C, nb = ceil(L/C), with zero rows that count as padding (LRA needs C | L: every
// LRA length divides), and the padded rows are sliced off before the output projection.
// m [B, Lp] is the key mask (1 = real; all ones without one), padded with 0.
//
// variant = lra (default): the LRA code as written, which is what produced the paper's LRA row.
//   Groups are strided: position s·nb + g is slot s of group g (LRA reshapes [L] to [C, nb]).
//   local:  group g's queries attend to group g's keys (softmax over C).
//   sorted: LRA's "permutation" einsum sums the source and target block indices separately, so every
//           sorted block is Σ_g (block g) times Σ_l softmax(sort logits) = 1: slot j of the sorted keys
//           (values) is the sum of k (v) over the contiguous positions [j·nb, (j+1)·nb), the same for
//           every group. Every query attends to these C sums (its own softmax).
//           The sorting network (key block sums → Dense(d → max_num_blocks) → softmax) multiplies its
//           result by exactly 1 and gets zero gradient, so it is not built (its d·25 weights would be
//           dead; see the doc). max_num_blocks, sinkhorn_iters and temperature do not apply.
//   out = local + sorted (two softmaxes, each with its own attention dropout).
//   Masks, as LRA builds them (additive −1e10, which in float32 absorbs every logit of a row that is
//   masked throughout, making that row uniform): with m read in contiguous rows, m_g[i] = m[g·C + i],
//     local:  slot pair (i, j) of group g is admitted when m_g[i]·m_g[j] = 1;
//     sorted: (i, j) is admitted when some g has m_g[i]·m_g[j] = 1 (the same for every group).
//   We apply a mask as s·A + (A − 1)·1e10 (A ∈ {0, 1}): admitted logits are exact, masked ones exactly
//   −1e10, so a row with no admitted entry is uniform in float32 and float64 alike (LRA's float32 run).
//
// variant = paper: the paper's mechanism. Contiguous blocks [g·C, (g+1)·C); k, v zeroed at masked
//   positions; per head R = Linear(d → max_num_blocks, Xavier, no bias)(Σ_block k) sliced to [nb, nb]
//   (LRA's sorting network, so nb <= max_num_blocks); Sinkhorn balancing in log space:
//     R ← R / temperature; sinkhorn_iters times { R ← R − logsumexp_rows R;  R ← R − logsumexp_cols R };
//     P = exp(R)                       (log_softmax over rows, then over columns; LRA's operator, unclipped)
//   sorted block i = Σ_j P_ij · block j (keys and values); block i's queries attend to [sorted block i ;
//   block i] (2C keys, ONE softmax). Sorted slot s is admitted when some block has a real token in slot
//   s (P > 0, so the soft mixture holds one); a local key when it is real.
//
// Every attention is materialised per block (matmul → mask → softmax → dropout → matmul), as LRA does:
// the LRA masks are pairwise (query slot × key slot), which ops::attention's key mask cannot express.
// Nothing is L×L: the largest tensors are [B, H, Lp, C] (paper: [B, H, Lp, 2C]).
// Float32 on the CPU without attention dropout (the benchmarks; eval), the lra variant's two branches are
// instead ops::attention calls (its tiled float32 fast path: no [.., C, C] tensor, forward or backward)
// with the mask as an additive bias: groups laid out [H, B·nb, C, d], so the mask of group (b, g) is a
// bias [B·nb, C, C] shared over the H "batches". Same numbers in float32: s + 0 = s on an admitted pair,
// s − 1e10 rounds to exactly −1e10 for |s| < 512 (half an ulp of 1e10) on a masked one, and a row with no
// admitted entry gets a zero query and bias 0 (logits 0: uniform, no gradient to q or k) as the
// materialised path's s·0 − 1e10 gives. Not in float64 (s − 1e10 ≠ −1e10), nor with dropout (the CPU attention fast path has none; the mask stream would
// differ from ops::dropout's), nor on CUDA (head dims 32/64/128 only): those keep the materialised path.
// Cost (per layer, forward): lra 8·B·H·L·C·d FLOPs for the two branches, memory O(B·H·L·C);
// paper 8·B·H·L·C·d + 4·B·H·nb·L·d for the block sort (nb = L/C, i.e. O(L²·d/C)), memory O(B·H·L·C).
#include <cmath>
#include <memory>
#include <string>

#include "models/layers.h"
#include "models/mixer.h"
#include "ops/attention/attention.h"
#include "ops/dropout/dropout.h"
#include "ops/elementwise/elementwise.h"
#include "ops/matmul/matmul.h"
#include "ops/reduce/reduce.h"
#include "ops/shape/shape_ops.h"
#include "ops/softmax/softmax.h"

namespace lra::models {
namespace {

struct SinkhornOptions {
  int heads = 4;
  int qkv_dim = 0;  // 0: the model width
  double attention_dropout = 0.1;
  int block = 50;
  std::string variant = "lra";
  int max_num_blocks = 25;
  int sinkhorn_iters = 1;
  double temperature = 1.0;

  void visit(MixerOptions& o) {
    o.integer("heads", heads, "attention heads H");
    o.integer("qkv_dim", qkv_dim, "attention width Q, a multiple of heads (0: the model width)");
    o.number("attention_dropout", attention_dropout, "dropout on the attention weights (training only)");
    o.integer("block", block, "block length C (LRA: 50; 64 in the image configs)");
    o.choice("variant", variant, {"lra", "paper"},
             "lra: LRA's code as written (strided groups, sorted = sum of blocks); paper: Sinkhorn-sorted blocks");
    o.integer("max_num_blocks", max_num_blocks, "paper: outputs of the sorting network (>= the number of blocks)");
    o.integer("sinkhorn_iters", sinkhorn_iters, "paper: Sinkhorn balancing iterations (LRA's operator: 1)");
    o.number("temperature", temperature, "paper: Sinkhorn temperature (LRA's operator: 1.0)");
  }
};

class SinkhornMixer : public Mixer {
 public:
  SinkhornMixer(const MixerConfig& c, const SinkhornOptions& o, Generator& init)
      : H_(o.heads), D_(c.width), Q_(attention_width("sinkhorn", c.width, o.heads, o.qkv_dim)),
        C_(o.block), max_len_(c.max_len),
        paper_(o.variant == "paper"), max_blocks_(o.max_num_blocks), iters_(o.sinkhorn_iters),
        temperature_(o.temperature), dropout_(o.attention_dropout) {
    LRA_CHECK(o.block >= 1, "sinkhorn: block = ", o.block, " must be a positive integer");
    LRA_CHECK(o.attention_dropout >= 0 && o.attention_dropout < 1, "sinkhorn: attention_dropout ",
              o.attention_dropout, " is not in [0, 1)");
    LRA_CHECK(o.max_num_blocks >= 1, "sinkhorn: max_num_blocks = ", o.max_num_blocks, " must be >= 1");
    LRA_CHECK(o.sinkhorn_iters >= 1, "sinkhorn: sinkhorn_iters = ", o.sinkhorn_iters, " must be >= 1");
    LRA_CHECK(o.temperature > 0, "sinkhorn: temperature = ", o.temperature, " must be > 0");
    const int Q = int(Q_);
    query_ = register_module("query", std::make_shared<Linear>(c.width, Q, init, LinearInit::XavierUniform, false));
    key_ = register_module("key", std::make_shared<Linear>(c.width, Q, init, LinearInit::XavierUniform, false));
    value_ = register_module("value", std::make_shared<Linear>(c.width, Q, init, LinearInit::XavierUniform, false));
    if (paper_)
      sort_ = register_module("sort", std::make_shared<Linear>(Q / o.heads, o.max_num_blocks, init,
                                                             LinearInit::XavierUniform, false));
    out_ = register_module("out", std::make_shared<Linear>(Q, c.width, init, LinearInit::XavierUniform, false));
  }

  Tensor forward(const Tensor& x, const Tensor& key_mask, Generator& gen) override {
    check_mixer_input(x, D_, max_len_, "sinkhorn");
    const int64_t B = x.dim(0), L = x.dim(1), d = Q_ / H_;
    LRA_CHECK(L >= 1, "sinkhorn: the sequence is empty");
    const int64_t nb = (L + C_ - 1) / C_, Lp = nb * C_;
    LRA_CHECK(!paper_ || nb <= max_blocks_, "sinkhorn: variant = paper sorts ceil(L / block) = ", nb,
              " blocks (L = ", L, ", block = ", C_, ") but the sorting network has max_num_blocks = ", max_blocks_,
              " outputs: raise max_num_blocks or block");
    Tensor m;  // [B, Lp] 0/1 in x's dtype; undefined when every position is real
    if (key_mask.defined() || Lp > L) {
      Tensor real = key_mask.defined() ? ops::cast(key_mask, x.dtype()) : Tensor::ones({B, L}, x.dtype(), x.device());
      m = Lp > L ? ops::pad(real, 1, 0, Lp - L, 0.0) : real;
    }
    if (!paper_ && x.device() == Device::CPU && x.dtype() == DType::F32 && (dropout_ == 0 || !training()))
      return out_->forward(lra_attention_fused(x, m, nb));
    auto heads = [&](const Tensor& t) {  // [B, L, Q] -> [B, H, Lp, d], zero rows appended
      Tensor h = ops::permute(ops::reshape(t, {B, L, H_, d}), {0, 2, 1, 3});
      return Lp > L ? ops::pad(h, 2, 0, Lp - L) : h;
    };
    const Tensor q = ops::scale(heads(query_->forward(x)), 1.0 / std::sqrt(double(d)));
    const Tensor k = heads(key_->forward(x)), v = heads(value_->forward(x));
    Tensor out = paper_ ? paper_attention(q, k, v, m, nb, gen) : lra_attention(q, k, v, m, nb, gen);  // [B,H,Lp,d]
    if (Lp > L) out = ops::slice(out, 2, 0, L);
    return out_->forward(ops::reshape(ops::permute(out, {0, 2, 1, 3}), {B, L, Q_}));
  }

 private:
  // softmax over the last dim of the logits s after the mask A (undefined: none; else 0/1, broadcast to
  // s): s·A + (A − 1)·1e10, then attention dropout (training only).
  Tensor weights(const Tensor& s, const Tensor& A, Generator& gen) const {
    Tensor t = s;
    if (A.defined()) {
      Tensor bias = ops::sub(ops::scale(A, 1e10), Tensor::full(A.shape(), 1e10, A.dtype(), A.device()));
      t = ops::add(ops::mul(s, A), bias);
    }
    return ops::dropout(ops::softmax(t), dropout_, gen, training());
  }

  // LRA's code as written (see the header). q (scaled), k, v: [B, H, Lp, d].
  Tensor lra_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& m, int64_t nb,
                       Generator& gen) const {
    const int64_t B = q.dim(0), Lp = q.dim(2), d = q.dim(3), C = C_;
    // Position s·nb + g is slot s of group g: [B, H, C, nb, d] -> [B, H, nb, C, d].
    auto group = [&](const Tensor& t) { return ops::transpose(ops::reshape(t, {B, H_, C, nb, d}), 2, 3); };
    const Tensor gq = group(q), gk = group(k), gv = group(v);
    Tensor A_local, A_sorted;
    if (m.defined()) {
      // LRA reshapes the padding mask contiguously: row g of the mask is positions g·C .. g·C + C − 1.
      const Tensor rows = ops::reshape(m, {B, nb, C});
      const Tensor pair = ops::mul(ops::reshape(rows, {B, nb, C, 1}), ops::reshape(rows, {B, nb, 1, C}));
      A_local = ops::reshape(pair, {B, 1, nb, C, C});
      A_sorted = ops::reshape(ops::max(pair, 1), {B, 1, 1, C, C});  // some row admits the pair
    }
    const Tensor local = ops::matmul(weights(ops::matmul(gq, gk, false, true), A_local, gen), gv);  // [B,H,nb,C,d]
    // Sorted slot j: the sum over the groups of slot j, i.e. of the contiguous positions [j·nb, (j+1)·nb).
    const Tensor ksum = ops::sum(gk, 2), vsum = ops::sum(gv, 2);  // [B, H, C, d]
    const Tensor s = ops::reshape(ops::matmul(ops::reshape(gq, {B, H_, Lp, d}), ksum, false, true), {B, H_, nb, C, C});
    const Tensor sorted = ops::matmul(ops::reshape(weights(s, A_sorted, gen), {B, H_, Lp, C}), vsum);  // [B,H,Lp,d]
    const Tensor out = ops::add(local, ops::reshape(sorted, {B, H_, nb, C, d}));
    return ops::reshape(ops::transpose(out, 2, 3), {B, H_, Lp, d});  // back to position order
  }

  // lra_attention as two ops::attention calls (float32 CPU, no dropout; see the header), from the block's
  // input x [B, L, D] to the attention output [B, L, Q] (before the output projection); m as forward's.
  Tensor lra_attention_fused(const Tensor& x, const Tensor& m, int64_t nb) const {
    const int64_t B = x.dim(0), L = x.dim(1), d = Q_ / H_, C = C_, Lp = nb * C, G = B * nb;
    // Position s·nb + g, head h is slot s of group g: [B, Lp, Q] = [B, C, nb, H, d] -> [H, B, nb, C, d]
    // -> [H, B·nb, C, d], one permute from the projection (zero rows appended) to the grouped heads.
    auto group = [&](const Tensor& t) {
      const Tensor p = Lp > L ? ops::pad(t, 1, 0, Lp - L) : t;
      return ops::reshape(ops::permute(ops::reshape(p, {B, C, nb, H_, d}), {3, 0, 2, 1, 4}), {H_, G, C, d});
    };
    const Tensor gk = group(key_->forward(x)), gv = group(value_->forward(x));
    Tensor q_local = group(query_->forward(x)), q_sorted = q_local;
    Tensor bias_local, bias_sorted;  // [B·nb, C, C]
    if (m.defined()) {
      // A query row with no admitted key must come out uniform. With its bias at −1e10 the attention's
      // saved logsumexp (−1e10 + log C) would lose the log C in float32 and its backward would weigh every
      // key 1, not 1/C; so such a row gets bias 0 and a zeroed query (logits 0: uniform, and no gradient
      // to its q or the keys, as s·A with A = 0 gives). Bias (A_ij − a_i)·1e10, a_i = 1 when row i admits
      // anything: 0 on an admitted pair and on a dead row, −1e10 on a masked pair of a live row.
      const Tensor rows = ops::reshape(m, {B, nb, C});  // a_i of the local branch (A_ii = m_i)
      const Tensor pair = ops::mul(ops::reshape(rows, {B, nb, C, 1}), ops::reshape(rows, {B, nb, 1, C}));
      bias_local = ops::reshape(ops::scale(ops::sub(pair, ops::reshape(rows, {B, nb, C, 1})), 1e10), {G, C, C});
      q_local = ops::mul(q_local, ops::reshape(rows, {1, G, C, 1}));
      // Sorted: (i, j) admitted when some group admits it, the same for every group; a_i = max_g m_g[i].
      const Tensor any = ops::max(pair, 1, true), live = ops::max(rows, 1, true);  // [B, 1, C, C], [B, 1, C]
      const Tensor b = ops::scale(ops::sub(any, ops::reshape(live, {B, 1, C, 1})), 1e10);
      bias_sorted = ops::reshape(ops::mul(Tensor::ones({B, nb, C, C}, m.dtype(), m.device()), b), {G, C, C});
      q_sorted = ops::reshape(ops::mul(ops::reshape(q_sorted, {H_, B, nb, C, d}), ops::reshape(live, {1, B, 1, C, 1})),
                              {H_, G, C, d});
    }
    ops::AttentionOptions o;
    o.scale = 1.0 / std::sqrt(double(d));
    const Tensor local = ops::attention(q_local, gk, gv, Tensor(), o, bias_local);  // [H, B·nb, C, d]
    // Sorted slot j: the sum over the groups of slot j, the same keys (values) for every group.
    auto sums = [&](const Tensor& g) {
      const Tensor s = ops::sum(ops::reshape(g, {H_, B, nb, C, d}), 2, true);  // [H, B, 1, C, d]
      return ops::reshape(nb == 1 ? s : ops::concat(std::vector<Tensor>(size_t(nb), s), 2), {H_, G, C, d});
    };
    const Tensor sorted = ops::attention(q_sorted, sums(gk), sums(gv), Tensor(), o, bias_sorted);
    const Tensor out = ops::reshape(ops::add(local, sorted), {H_, B, nb, C, d});
    // Back to position order and the heads concatenated: [B, C, nb, H, d] = [B, Lp, Q], the padding cut.
    const Tensor y = ops::reshape(ops::permute(out, {1, 3, 2, 0, 4}), {B, Lp, Q_});
    return Lp > L ? ops::slice(y, 1, 0, L) : y;
  }

  // Sinkhorn balancing in log space of R [B, H, nb, nb]: rows then columns, iters_ times; returns exp.
  Tensor sinkhorn(const Tensor& logits) const {
    Tensor r = temperature_ == 1.0 ? logits : ops::scale(logits, 1.0 / temperature_);
    for (int t = 0;; ++t) {
      r = ops::transpose(ops::log_softmax(r), 2, 3);  // rows normalised; columns now last
      if (t + 1 == iters_) return ops::transpose(ops::softmax(r), 2, 3);  // the last column step, exponentiated
      r = ops::transpose(ops::log_softmax(r), 2, 3);
    }
  }

  // The paper's mechanism (see the header). q (scaled), k, v: [B, H, Lp, d].
  Tensor paper_attention(const Tensor& q, Tensor k, Tensor v, const Tensor& m, int64_t nb, Generator& gen) const {
    const int64_t B = q.dim(0), Lp = q.dim(2), d = q.dim(3), C = C_;
    if (m.defined()) {
      const Tensor keep = ops::reshape(m, {B, 1, Lp, 1});
      k = ops::mul(k, keep);
      v = ops::mul(v, keep);
    }
    auto blocks = [&](const Tensor& t) { return ops::reshape(t, {B, H_, nb, C, d}); };
    const Tensor bq = blocks(q), bk = blocks(k), bv = blocks(v);
    // Row i of P is target block i, column j source block j.
    const Tensor P = sinkhorn(ops::slice(sort_->forward(ops::sum(bk, 3)), 3, 0, nb));  // [B, H, nb, nb]
    auto sort = [&](const Tensor& b) {
      return ops::reshape(ops::matmul(P, ops::reshape(b, {B, H_, nb, C * d})), {B, H_, nb, C, d});
    };
    const Tensor keys = ops::concat({sort(bk), bk}, 3), values = ops::concat({sort(bv), bv}, 3);  // [B,H,nb,2C,d]
    Tensor A;
    if (m.defined()) {
      const Tensor rows = ops::reshape(m, {B, nb, C});
      const Tensor slots = ops::mul(Tensor::ones({B, nb, C}, m.dtype(), m.device()), ops::max(rows, 1, true));
      A = ops::reshape(ops::concat({slots, rows}, 2), {B, 1, nb, 1, 2 * C});
    }
    const Tensor out = ops::matmul(weights(ops::matmul(bq, keys, false, true), A, gen), values);  // [B,H,nb,C,d]
    return ops::reshape(out, {B, H_, Lp, d});
  }

  int64_t H_, D_, Q_, C_, max_len_;
  bool paper_;
  int64_t max_blocks_;
  int iters_;
  double temperature_, dropout_;
  std::shared_ptr<Linear> query_, key_, value_, sort_, out_;
};

}  // namespace

LRA_REGISTER_MIXER(sinkhorn, SinkhornOptions, "sinkhorn",
                   "Sparse Sinkhorn attention: local block + sorted block (variant = lra | paper, block = 50)",
                   "O(L C D) (paper: + O(L^2 D / C) block sort)",
                   [](const MixerConfig& c, const SinkhornOptions& o, Generator& g) {
                     return std::make_shared<SinkhornMixer>(c, o, g);
                   });

}  // namespace lra::models
