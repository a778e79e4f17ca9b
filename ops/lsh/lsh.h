// The two LSH-attention kernels of the Reformer (Kitaev et al. 2020) as the LRA code computes them
// (lra_benchmarks/models/reformer/reformer_attention.py): hashing by random rotations, and attention of
// each chunk of the bucket-sorted sequence to itself and to the chunk before it. The sort, the gathers
// and the combination of the hash rounds are ops::argsort, ops::gather and plain ops (models/mixers/
// reformer.cpp).
//
// ---- lsh_buckets(rot, n_hashes) -> buckets --------------------------------------------------------
//   rot [R, L, n_hashes·h] (h = n_buckets/2: the rotated vectors x·W, W [d, n_hashes, h] flattened),
//   buckets [R, n_hashes·L] int32, round-major:
//     buckets[r, a·L + t] = a·n_buckets + argmax_i [rot[r, t, a, :], −rot[r, t, a, :]]_i
//   argmax takes the first of equal maxima (jnp.argmax), so a zero vector (a padded row) is bucket 0.
//   The offset a·n_buckets makes the buckets of different rounds distinct, so one stable sort of a row
//   orders it by (round, bucket, position). Not differentiable. Any extent may be 0.
//
// ---- lsh_chunk_attention(q, k, v, opts, perm, key_mask) -> y ---------------------------------------
//   q, k [R, N, d], v [R, N, dv]; N = n_chunks·C (C = opts.chunk). Row i of chunk c = i / C attends to
//   the 2C keys of chunk c and of chunk (c − 1) mod n_chunks (look-one-back; chunk 0 looks back at the
//   last chunk, and with one chunk the chunk sees itself twice, as LRA's concatenation does):
//     s_ij = scale · q_i·k_j,  replaced by −1e9 when key j is masked and by −1e5 when j is i's own
//            position (opts.self_mask; the Reformer's "not to itself unless alone": the trax values)
//     lse_i = log Σ_j exp(s_ij),   o_i = Σ_j exp(s_ij − lse_i) · v_j
//     y[r, i, 0:dv] = o_i,  y[r, i, dv] = lse_i   (one output, so one tape node carries both gradients;
//                                                  the caller splits it)
//   Positions (only with perm): pos_i = perm[r, i] mod opts.period. Key j is masked when key_mask is
//   given and pos_j >= Lm or key_mask[b, pos_j] == 0 (key_mask [Bm, Lm] int32, row r uses b = r / (R/Bm)).
//   Without perm there is no mask at all (the LRA code: no self mask, no padding mask).
//   Backward (G = ∂o_i, γ = ∂lse_i; replaced logits are constants and get no gradient):
//     p_ij = exp(s_ij − lse_i),  D_i = G_i·o_i,  dS_ij = p_ij·(G_i·v_j − D_i + γ_i)
//     ∂q_i = scale Σ_j dS_ij k_j,  ∂k_j = scale Σ_i dS_ij q_i,  ∂v_j = Σ_i p_ij G_i
//   (the sums over i run over the queries of chunk c and c + 1 whose lists hold j.)
//   Saved for backward: q, k, v, y (o and lse), perm, key_mask. Memory: y is R·N·(dv + 1); nothing of
//   size N×N or even N×2C is stored (scores are recomputed in backward).
//   FLOPs: forward 2·R·N·2C·(d + dv), backward about twice that. With LRA's fixed 10 chunks per round,
//   C = L/10: 0.4·R·n_hashes·L²·(d + dv) — quadratic, a fifth of full attention.
//   Any of R, N, d, dv may be 0 (N = 0 means no chunks; C >= 1 always).
#pragma once

#include <cstdint>

#include "engine/rng.h"  // LRA_HD
#include "engine/tensor.h"

namespace lra::ops {

Tensor lsh_buckets(const Tensor& rot, int64_t n_hashes);

struct LshAttentionOptions {
  int64_t chunk = 1;       // C: rows per chunk; N must be a multiple
  double scale = 1.0;      // multiplies q·k (LRA: sqrt(d); the paper: 1/sqrt(d))
  bool self_mask = false;  // needs perm
  int64_t period = 0;      // positions are perm mod period (needs perm; 0 = no perm)
};

Tensor lsh_chunk_attention(const Tensor& q, const Tensor& k, const Tensor& v, const LshAttentionOptions& opts,
                           const Tensor& perm = Tensor(), const Tensor& key_mask = Tensor());

// The mask replacement values (trax's Reformer): a masked key, a query's own position.
constexpr double kLshMaskValue = -1e9;
constexpr double kLshSelfValue = -1e5;

// Geometry of the raw entry points. perm and mask pointers may be null (then period / Lm are unused).
struct LshShape {
  int64_t R = 1, N = 1, d = 1, dv = 1, C = 1;
  double scale = 1;
  bool self_mask = false;
  int64_t period = 1;
  int64_t Bm = 1, Lm = 0;  // key_mask [Bm, Lm]
  LRA_HD int64_t n_chunks() const { return N / C; }
};

// Position of sorted row i (perm given) and whether the score of (query row i, key row j) is replaced:
// 0 no, 1 by kLshMaskValue (masked key), 2 by kLshSelfValue (the query's own position). Shared by the
// CPU loops and the CUDA kernels.
LRA_HD int64_t lsh_position(const LshShape& s, const int32_t* perm, int64_t r, int64_t i) {
  return int64_t(perm[r * s.N + i]) % s.period;
}
LRA_HD int lsh_replaced(const LshShape& s, const int32_t* perm, const int32_t* mask, int64_t r, int64_t i,
                        int64_t j) {
  if (perm == nullptr) return 0;
  const int64_t pj = lsh_position(s, perm, r, j);
  if (mask != nullptr) {
    const int64_t b = r / (s.R / s.Bm);
    if (pj >= s.Lm || mask[b * s.Lm + pj] == 0) return 1;
  }
  return s.self_mask && lsh_position(s, perm, r, i) == pj ? 2 : 0;
}

// Key row of slot t (0 <= t < 2C) for a query in chunk c: the chunk's own rows, then the previous chunk's.
LRA_HD int64_t lsh_key_row(const LshShape& s, int64_t c, int64_t t) {
  const int64_t nc = s.n_chunks();
  const int64_t chunk = t < s.C ? c : (c + nc - 1) % nc;
  return chunk * s.C + (t < s.C ? t : t - s.C);
}

namespace cpu {
template <class T>
void lsh_buckets(const T* rot, int32_t* buckets, int64_t R, int64_t L, int64_t n_hashes, int64_t h);
template <class T>
void lsh_attention_forward(const LshShape& s, const T* q, const T* k, const T* v, const int32_t* perm,
                           const int32_t* mask, T* y);
// gq, gk, gv are overwritten.
template <class T>
void lsh_attention_backward(const LshShape& s, const T* q, const T* k, const T* v, const int32_t* perm,
                            const int32_t* mask, const T* y, const T* gy, T* gq, T* gk, T* gv);
// The float32 fast path (lsh_cpu_fast.cpp: tasks per (row, chunk), GEMM-tiled, vectorised softmax,
// OpenMP, results independent of the thread count); the glue runs float32 CPU calls here. Same contract
// as the reference above (gq, gk, gv overwritten).
void lsh_attention_forward_fast(const LshShape& s, const float* q, const float* k, const float* v,
                                const int32_t* perm, const int32_t* mask, float* y);
void lsh_attention_backward_fast(const LshShape& s, const float* q, const float* k, const float* v,
                                 const int32_t* perm, const int32_t* mask, const float* y, const float* gy, float* gq,
                                 float* gk, float* gv);
}  // namespace cpu

namespace cuda {
// d and dv up to kMaxHeadDim (a warp holds a row in registers, 8 values per lane).
constexpr int64_t kLshMaxHeadDim = 256;
void lsh_buckets(const float* rot, int32_t* buckets, int64_t R, int64_t L, int64_t n_hashes, int64_t h);
void lsh_attention_forward(const LshShape& s, const float* q, const float* k, const float* v, const int32_t* perm,
                           const int32_t* mask, float* y);
// scratch: R·N floats (D_i = G_i·o_i, written by the query pass, read by the key pass).
void lsh_attention_backward(const LshShape& s, const float* q, const float* k, const float* v, const int32_t* perm,
                            const int32_t* mask, const float* y, const float* gy, float* gq, float* gk, float* gv,
                            float* scratch);
}  // namespace cuda

}  // namespace lra::ops
