// Scaled dot-product attention: one tiled, online-softmax kernel family for every attention model
// (full, causal, chunked / block-local, a token band (Longformer), the Sparse Transformer's fixed pattern,
// LaS, key padding, an additive bias hook).
//
//   q, k, v, out: [B, H, L, D] (B batch, H heads, L length, D head dim), float32 (CUDA) or float32 /
//   float64 (CPU); bfloat16 q, k, v take the tensor-core path of attention_bf16.h (CUDA only, no bias,
//   no dropout, no band or fixed pattern, float32 accumulation). Queries and keys have the same length L (self-attention).
//
// For batch b, head h, query i and key j, in this order:
//   1. s_ij = (q_i · k_j) · scale                        scale = options.scale, or 1/sqrt(D) when 0
//   2. s_ij = s_ij · exp(−α_h·|i − j|)                   LaS locality (ELD) term, when options.alpha is set
//   3. s_ij = s_ij + bias[(b,) h, i, j]                  when a bias tensor is given
//   4. (i, j) is excluded when key_mask[b, j] == 0, or j is outside the structural range below
//   5. P_ij = exp(s_ij) / Σ_{included j'} exp(s_ij'),  P_ij = 0 for excluded j
//   6. out_i = Σ_j P_ij · M_ij · v_j,   M_ij = Z_ij / (1 − p) with dropout (options.dropout = p > 0),
//      M_ij = 1 without; Z_ij ∈ {0, 1} is the keep mask below
// Structural range of query i (all of these combine: (i, j) is allowed when every one that is set
// allows it):
//   * causal: j <= i;
//   * chunk C > 0: the sequence is cut into blocks [0, C), [C, 2C), ... (the last one may be shorter)
//     and i attends to keys of its own block; with window w it also attends to the w neighbouring
//     blocks on each side (causal: only the w previous blocks, and j <= i still holds);
//   * band (options.band, with band_left = a >= 0, band_right = b >= 0): i − a <= j <= i + b, a sliding
//     window of a + b + 1 tokens (Longformer's; LRA's window 512 is a = 255, b = 256). A band wider than
//     L is no restriction; a = b = 0 is attention to self alone;
//   * fixed pattern (options.fixed_block = n > 0, fixed_summary = c in [0, n]), the Sparse Transformer's
//     "fixed" heads merged into one pattern as LRA builds it (sparse_attention.py Fixed1 ∪ Fixed2):
//       fixed(i, j) = j <= i  and  ( ⌊i/n⌋ = ⌊j/n⌋  or  j mod n = 0  or  j mod n >= n − c )
//     i.e. the causal part of i's own block, plus the causal "summary" keys: the first and the last c
//     positions of every block. With fixed_global_first, position 0 is global and the pattern is
//     shifted by one, as LRA's use_cls_token builds its mask (an all-allowed first row and column
//     around the pattern of the other L − 1 positions):
//       (i, j) allowed  ⟺  i = 0  or  j = 0  or  fixed(i − 1, j − 1).
//     Row 0 then attends to every key (it is not causal).
// Cost of the structure (L_eff, keys visited per query, in the FLOPs below): full L; causal about L/2;
// chunk C with window w (2w + 1)·C; band a + b + 1 (O(L·(a + b)) in all, the CUDA kernels skip every
// tile outside the band); the fixed pattern about L/2: every tile of 32 keys holds summary keys for the
// LRA sizes (n = 50, c = 10), so only the causal half is skipped, and with fixed_global_first the dk/dv
// pass visits every query tile (query 0 sees every key). The CPU reference is O(L²) in every case.
// A query with no included key (a fully masked batch row, say) outputs exactly 0 and gets zero
// gradient, never NaN. The gradient reaching excluded positions is exactly 0.
// Empty extents: any of B, H, L, D may be 0. out and the gradients of q, k, v are then empty, and a
// bias gets a zero gradient (with D = 0, dP = dout · v is a sum over nothing, so dS = 0), on both
// devices: the CUDA kernels are skipped, so D = 0 is not subject to their head-dim limit.
//
// LaS (Zimerman & Wolf): α_0 = 0 for the first head and fixed, exponentially spaced α in [0, B] for the
// others; note that multiplying the logits by the decay pulls distant logits toward 0, i.e. toward
// uniform weight, not toward zero weight. α is a constant, never differentiated. LaS-chunk is the same
// with options.chunk set.
//
// Bias: an additive [H, L, L] (shared by the batch) or [B, H, L, L] float tensor, differentiable. It is
// the hook for sparse / relative-position models and is only meant for small L: it is the one input
// whose memory grows as L².
//
// Dropout on the attention weights (inverted dropout, as ops::dropout): weight (b, h, i, j) has the
// flat index e = dropout_first + ((b·H + h)·L + i)·L + j (dropout_first = 0 but under a batch window,
// see set_attention_dropout) and is dropped (Z_ij = 0) when
// philox_uniform(dropout_seed, dropout_offset, e) < p (engine/rng.h): the very mask ops::dropout would
// draw for a [B, H, L, L] tensor from a generator at (seed, offset). The decision is a pure function of
// (seed, offset, e), so the CPU reference, the CUDA forward and both CUDA backward kernels each
// recompute it where they need it and nothing L×L is stored; the uniform is k/2^24 for the integer k
// in the top 24 bits of a Philox word, so the test is done exactly as k < ceil(p·2^24) on both sides.
// The normaliser of the softmax is unchanged (dropout acts after it), so a row's weights P_ij·M_ij sum
// to 1 only in expectation, and the expectation of out over masks is the undropped output.
// p = 0 is exactly the undropped op. Dropout is on only when the caller sets p > 0 (a mixer does so in
// training); set_attention_dropout() draws a fresh (seed, offset) per call.
//
// Backward (FlashAttention-2 recomputation; nothing L×L is stored), with M_ij as in step 6:
//   dP_ij = M_ij · (dout_i · v_j)                           (the gradient reaching P_ij)
//   Δ_i = Σ_j P_ij dP_ij = dout_i · out_i                   (still, because out_i = Σ_j P_ij M_ij v_j)
//   dS_ij = P_ij (dP_ij − Δ_i)                              (softmax backward per row)
//   f_ij = scale · exp(−α_h|i−j|)  (the derivative of s_ij with respect to q_i · k_j)
//   dq_i = Σ_j dS_ij f_ij k_j,   dk_j = Σ_i dS_ij f_ij q_i,   dv_j = Σ_i P_ij M_ij dout_i,   dbias_ij = dS_ij
//   (summed over b for a [H, L, L] bias).
// Saved for backward: q, k, v, out (and on CUDA the per-row logsumexp [B, H, L], +inf for a query with
// no included key); for dropout only (p, seed, offset). Memory grows linearly in L (without a bias).
// FLOPs: 4·B·H·L·L_eff·D forward (L_eff: keys per query in range), about 2.5 times that backward.
// Dropout adds one Philox4x32-10 evaluation (~100 integer ops) per 4 in-range weights (attention_dropout.h)
// in the forward and in each of the two backward passes over the weights.
// Bytes moved (CUDA, float32): forward reads q once and k, v once per query tile of 32 rows:
// 4·B·H·L·D·(1 + 2·L_eff/32) and writes out and the logsumexp.
//
// CPU paths: float32 without dropout (a bias tensor or not) runs attention_cpu_fast.cpp (tiled, saves
// the logsumexp like CUDA); dropout or float64 run attention_cpu_rows.cpp (attention_cpu_path()).
// CPU: any head dim D. CUDA: D in {32, 64, 128} (compiled instances); other D are rejected with an
// error naming the supported ones.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/rng.h"  // LRA_HD, Philox
#include "engine/tensor.h"

namespace lra::ops {

struct AttentionOptions {
  bool causal = false;
  int64_t chunk = 0;          // 0: no chunking; else the block size (the last block may be shorter)
  int window = 0;             // with chunk: also attend to `window` neighbouring blocks each side (causal: previous)
  bool band = false;          // a token band: i − band_left <= j <= i + band_right (both >= 0)
  int64_t band_left = 0, band_right = 0;
  int64_t fixed_block = 0;    // 0: off; else the Sparse Transformer fixed pattern with blocks of this size
  int64_t fixed_summary = 0;  // c: the last c positions of every block are summary keys (with the first)
  bool fixed_global_first = false;  // with fixed_block: position 0 global, the pattern shifted by one
  std::vector<float> alpha;   // empty, or one per head: s_ij becomes s_ij · exp(−α_h·|i−j|) (LaS)
  double scale = 0;           // 0: 1/sqrt(D)
  // Attention-weight dropout: p in [0, 1), 0 = off. The mask is the stream (dropout_seed,
  // dropout_offset) of engine/rng.h; set_attention_dropout() fills all three from a Generator.
  double dropout = 0;
  uint64_t dropout_seed = 0, dropout_offset = 0;
  // The stream index of this call's weight (0, 0, 0, 0): weight e of the call is weight dropout_first + e of
  // the stream. 0 but under a batch window, where it is first_row·H·L·L (set_attention_dropout).
  uint64_t dropout_first = 0;
};

// Turns dropout on in o with rate p for one call on q of shape [B, H, L, D], with a fresh mask: the
// seed is gen's and the offset the first of uniform_counters(B·H·L·L) counters reserved from gen (what
// ops::dropout reserves for that many elements), so consecutive calls draw independent masks.
// p == 0 leaves o alone and draws nothing. p must be in [0, 1).
// Under a batch window (engine/rng.h) B is the local batch, or any batch-led row count such as MEGA's
// B·nc chunks (B must then be a multiple of local_rows): the call reserves the weights of the global batch,
// uniform_counters(R·global_rows) with R = B·H·L·L / local_rows, and sets dropout_first = first_row·R, so
// a weight's mask depends on its global row only.
void set_attention_dropout(AttentionOptions& o, double p, Generator& gen, int64_t B, int64_t H, int64_t L);

// q, k, v: [B, H, L, D]; key_mask: int32 [B, L] (0 = padding) or undefined; bias: see above or
// undefined. Returns out [B, H, L, D]. Differentiable in q, k, v and bias.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                 const AttentionOptions& options, const Tensor& bias = Tensor());

// The checks both the float and the bfloat16 path make (not the dtypes, the bias or the device): q, k, v
// [B, H, L, D] of one shape on one device, key_mask int32 [B, L] on that device, options in range.
// Messages start with `op`.
void check_attention_arguments(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& key_mask, const AttentionOptions& options);

// Sizes, options and the non-differentiable inputs of one call, for the raw entry points.
struct AttentionParams {
  int64_t B = 0, H = 0, L = 0, D = 0;
  double scale = 1.0;                 // already resolved (never 0 here)
  bool causal = false;
  int64_t chunk = 0, window = 0;
  bool band = false;                  // band, fixed pattern: as AttentionOptions
  int64_t band_left = 0, band_right = 0;
  int64_t fixed_block = 0, fixed_summary = 0;
  bool fixed_global_first = false;
  const float* alpha = nullptr;       // HOST pointer, [H], or nullptr (no LaS term)
  const int32_t* key_mask = nullptr;  // on the data's device, [B, L], or nullptr
  int64_t bias_batch_stride = 0;      // bias elements between batches: H·L·L for [B, H, L, L], 0 for [H, L, L]
  double dropout = 0;                 // p in [0, 1), 0 = off; the mask stream is (dropout_seed, dropout_offset)
  uint64_t dropout_seed = 0, dropout_offset = 0;
  uint64_t dropout_first = 0;         // weight e of the call is weight dropout_first + e of the stream
};

// The parameters of a checked call on q [B, H, L, D] (scale resolved, key mask and options copied;
// the bias stride is the float path's to set).
AttentionParams attention_params(const Tensor& q, const Tensor& key_mask, const AttentionOptions& options);

// Which CPU path attention() runs for a call: Fast (attention_cpu_fast.cpp) for float32 without dropout
// (with or without a bias tensor), Rows (attention_cpu_rows.cpp) otherwise (float64, dropout).
enum class AttentionCpuPath { Rows, Fast };
AttentionCpuPath attention_cpu_path(DType dtype, const AttentionParams& p);

// The integer form of the dropout test: philox_uniform(...) = k / 2^24 < p  ⟺  k < ceil(p·2^24) (p·2^24
// is exact in double). Done once on the host so both backends compare the same integers.
inline uint32_t attention_dropout_threshold(double p) { return uint32_t(std::ceil(p * 16777216.0)); }

// Whether weight e = ((b·H + h)·L + i)·L + j is dropped: the top 24 bits of lane e % 4 of the Philox
// block (seed, offset + e / 4) fall below the threshold. The same lane layout as philox_uniform.
LRA_HD bool attention_dropped(uint64_t seed, uint64_t offset, uint64_t e, uint32_t threshold) {
  return (philox4x32(seed, offset + e / 4).v[e % 4] >> 8) < threshold;
}

// The most heads the CUDA kernels take an α for (α travels by value in the kernel parameters).
constexpr int kAttentionMaxAlphaHeads = 64;

// The structural options of one call, in one value the helpers below and the CUDA kernels take.
struct AttentionStructure {
  bool causal = false;
  int64_t chunk = 0, window = 0;
  bool band = false;
  int64_t band_left = 0, band_right = 0;
  int64_t fixed_block = 0, fixed_summary = 0;
  bool fixed_global_first = false;
};

inline AttentionStructure attention_structure(const AttentionParams& p) {
  AttentionStructure s;
  s.causal = p.causal;
  s.chunk = p.chunk;
  s.window = p.window;
  s.band = p.band;
  s.band_left = p.band_left;
  s.band_right = p.band_right;
  s.fixed_block = p.fixed_block;
  s.fixed_summary = p.fixed_summary;
  s.fixed_global_first = p.fixed_global_first;
  return s;
}

// Whether query i may attend to key j by causal / chunk / window alone (the bfloat16 path's structure).
LRA_HD bool attention_pair_allowed(bool causal, int64_t chunk, int64_t window, int64_t i, int64_t j) {
  if (causal && j > i) return false;
  if (chunk <= 0) return true;
  int64_t bi = i / chunk, bj = j / chunk;
  return bj >= bi - window && bj <= bi + window;
}

// The Sparse Transformer fixed pattern fixed(i, j) of the header, block n, c summary positions (i, j >= 0).
LRA_HD bool attention_fixed_allowed(int64_t n, int64_t c, int64_t i, int64_t j) {
  if (j > i) return false;
  if (i / n == j / n) return true;  // Fixed1: own block
  const int64_t r = j % n;
  return r == 0 || r >= n - c;      // Fixed2: summary keys
}

// Whether query i may attend to key j by structure (every structural option; not the key mask).
LRA_HD bool attention_pair_allowed(const AttentionStructure& s, int64_t i, int64_t j) {
  if (!attention_pair_allowed(s.causal, s.chunk, s.window, i, j)) return false;
  if (s.band && (j < i - s.band_left || j - i > s.band_right)) return false;
  if (s.fixed_block > 0) {
    if (!s.fixed_global_first) return attention_fixed_allowed(s.fixed_block, s.fixed_summary, i, j);
    return i == 0 || j == 0 || attention_fixed_allowed(s.fixed_block, s.fixed_summary, i - 1, j - 1);
  }
  return true;
}

// A half-open range [*begin, *end) holding every key that some query in [i0, i1) may attend to
// (i0 < i1 <= L) by causal / chunk / window. The CUDA kernels visit only key tiles in it.
LRA_HD void attention_key_range(bool causal, int64_t chunk, int64_t window, int64_t L, int64_t i0, int64_t i1,
                                int64_t* begin, int64_t* end) {
  int64_t b = 0, e = L;
  if (chunk > 0) {
    int64_t first = i0 / chunk - window, last = (i1 - 1) / chunk + window;  // blocks in range
    b = first > 0 ? first * chunk : 0;
    e = (last + 1) * chunk < L ? (last + 1) * chunk : L;
  }
  if (causal && i1 < e) e = i1;
  *begin = b;
  *end = e;
}

// The mirror image: every query in [*begin, *end) that may attend to some key in [j0, j1).
LRA_HD void attention_query_range(bool causal, int64_t chunk, int64_t window, int64_t L, int64_t j0, int64_t j1,
                                  int64_t* begin, int64_t* end) {
  int64_t b = 0, e = L;
  if (chunk > 0) {
    int64_t first = j0 / chunk - window, last = (j1 - 1) / chunk + window;
    b = first > 0 ? first * chunk : 0;
    e = (last + 1) * chunk < L ? (last + 1) * chunk : L;
  }
  if (causal && j0 > b) b = j0;
  *begin = b;
  *end = e;
}

// The same two ranges for every structural option. The band narrows them to the tiles it touches
// (keys [i0 − a, i1 + b) of queries [i0, i1); queries [j0 − b, j1 + a) of keys [j0, j1)); the fixed
// pattern is causal (keys < i1, queries >= j0) except for its global row 0, which sees every key.
// A band side of L or more is no restriction (and keeps i1 + b from overflowing).
LRA_HD void attention_key_range(const AttentionStructure& s, int64_t L, int64_t i0, int64_t i1, int64_t* begin,
                                int64_t* end) {
  attention_key_range(s.causal, s.chunk, s.window, L, i0, i1, begin, end);
  if (s.band) {
    if (s.band_left < L && i0 - s.band_left > *begin) *begin = i0 - s.band_left;
    if (s.band_right < L && i1 + s.band_right < *end) *end = i1 + s.band_right;
  }
  if (s.fixed_block > 0 && !(s.fixed_global_first && i0 == 0) && i1 < *end) *end = i1;
  if (*end < *begin) *end = *begin;  // nothing in range
}

LRA_HD void attention_query_range(const AttentionStructure& s, int64_t L, int64_t j0, int64_t j1, int64_t* begin,
                                  int64_t* end) {
  attention_query_range(s.causal, s.chunk, s.window, L, j0, j1, begin, end);
  if (s.band) {
    if (s.band_right < L && j0 - s.band_right > *begin) *begin = j0 - s.band_right;
    if (s.band_left < L && j1 + s.band_left < *end) *end = j1 + s.band_left;
  }
  if (s.fixed_block > 0 && !s.fixed_global_first && j0 > *begin) *begin = j0;
  if (*end < *begin) *end = *begin;
}

// Raw entry points. All data [B, H, L, D] row-major except bias (see bias_batch_stride) and gbias,
// which is always the full [B, H, L, L] (the glue sums it over b for a shared [H, L, L] bias).
// bias and gbias may be nullptr.
namespace cpu {
// The reference: materialises the L×L logits of one (b, h) at a time.
template <class T>
void attention_forward(const AttentionParams& p, const T* q, const T* k, const T* v, const T* bias, T* out);
// The exact softmax backward through the materialised matrix (recomputes P; needs neither out nor lse).
template <class T>
void attention_backward(const AttentionParams& p, const T* q, const T* k, const T* v, const T* bias, const T* gout,
                        T* gq, T* gk, T* gv, T* gbias);
// The path the op runs on the CPU (attention_cpu_rows.cpp): the same results row by row, O(L) memory per
// thread, only the keys in each query's structural range visited, (b, h) pairs spread over OpenMP threads.
template <class T>
void attention_forward_rows(const AttentionParams& p, const T* q, const T* k, const T* v, const T* bias, T* out);
template <class T>
void attention_backward_rows(const AttentionParams& p, const T* q, const T* k, const T* v, const T* bias,
                             const T* gout, T* gq, T* gk, T* gv, T* gbias);
// The float32 fast path (attention_cpu_fast.cpp): a tiled online softmax (FlashAttention-2) that saves
// the per-row logsumexp lse [B, H, L] (+inf for a query with no included key) and recomputes P from it in
// the backward. It takes every structural option, α, scale, the key mask and a bias tensor (laid out as
// p.bias_batch_stride says), but no dropout: attention_fast_supports says which calls it takes; the glue
// runs float32 calls it takes here and everything else (dropout, float64) on the row path above.
bool attention_fast_supports(const AttentionParams& p);
void attention_forward_fast(const AttentionParams& p, const float* q, const float* k, const float* v,
                            const float* bias, float* out, float* lse);
// gq, gk, gv are written (not accumulated); out and lse are the forward's. gbias (nullptr: not wanted) is
// fully written in the bias's own layout: [B, H, L, L] when p.bias_batch_stride != 0, else [H, L, L]
// summed over b in order (deterministic), zeros where no pair is included.
void attention_backward_fast(const AttentionParams& p, const float* q, const float* k, const float* v,
                             const float* bias, const float* out, const float* lse, const float* gout, float* gq,
                             float* gk, float* gv, float* gbias);
}  // namespace cpu

namespace cuda {
bool attention_supports_head_dim(int64_t D);
// out [B, H, L, D] and lse [B, H, L] (the per-row logsumexp, +inf for a row with no included key).
void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v, const float* bias,
                       float* out, float* lse);
// delta: scratch of B·H·L floats. gbias, when not nullptr, is fully written (zeros where excluded).
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v, const float* bias,
                        const float* out, const float* lse, const float* gout, float* delta, float* gq, float* gk,
                        float* gv, float* gbias);
// out[n] = Σ_b x[b, n] for x [B, N], summed in order (deterministic): the bias gradient of a shared bias.
void sum_over_batch(const float* x, float* out, int64_t B, int64_t N);
}  // namespace cuda

}  // namespace lra::ops
