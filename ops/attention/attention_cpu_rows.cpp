// The CPU path of attention that training runs: row by row, the same formula as the reference
// (attention_cpu.cpp, the specification, which materialises the L×L matrices of one (b, h)), in O(L)
// memory per thread and with every access along rows:
//   * each (b, h) is one task of an OpenMP loop; a thread owns that pair's slices of out, gq, gk, gv;
//   * query i visits only the keys of attention_key_range(structure, i) (a chunk, a band, a causal
//     prefix) and, inside it, those attention_pair_allowed and unmasked: local, band and causal
//     attention cost O(L·L_eff·D), not O(L²·D);
//   * q_i, k_j, v_j, gout_i are contiguous rows of D, so the inner loops are dot products and axpys the
//     compiler vectorises, and a pair's K and V slices (2·L·D values) stay in cache across queries.
// Backward, per query row: recompute P_i· (with the dropout multipliers M_i·), dP_ij = M_ij·(gout_i·v_j),
// Δ_i = Σ_j P_ij dP_ij, dS_ij = P_ij (dP_ij − Δ_i), then gq_i += dS_ij f_ij k_j, gk_j += dS_ij f_ij q_i,
// gv_j += P_ij M_ij gout_i and gbias_ij = dS_ij (f_ij = scale·exp(−α_h|i−j|), attention.h).
// The sums run over j in increasing order, as the reference's; results agree with it to rounding
// (tests/ops/attention_test_properties.cpp, AttentionCpuRows.*).
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/attention/attention.h"

namespace lra::ops::cpu {

namespace {

// Query i's row: for j in [jb, je), w[j − jb] = P_ij (0 where excluded) and, when F is not null,
// F[j − jb] = f_ij. Returns false when no key is included (the row is then all zero).
template <class T>
bool row_probabilities(const AttentionParams& p, const AttentionStructure& st, int64_t b, int64_t h, int64_t i,
                       const T* qi, const T* kb, const T* bias_row, int64_t jb, int64_t je, T* w, T* F) {
  const int64_t D = p.D;
  const int32_t* mask = p.key_mask ? p.key_mask + b * p.L : nullptr;
  T m = -INFINITY;
  bool any = false;
  for (int64_t j = jb; j < je; ++j) {
    const int64_t t = j - jb;
    T f = T(p.scale);
    if (p.alpha) f *= std::exp(-T(p.alpha[h]) * T(std::abs(i - j)));
    if (F) F[t] = f;
    if (!attention_pair_allowed(st, i, j) || (mask && mask[j] == 0)) {
      w[t] = -INFINITY;
      continue;
    }
    const T* kj = kb + j * D;
    T qk = 0;
    for (int64_t c = 0; c < D; ++c) qk += qi[c] * kj[c];
    T s = qk * f;
    if (bias_row) s += bias_row[j];
    w[t] = s;
    m = std::max(m, s);
    any = true;
  }
  if (!any) {
    std::fill(w, w + (je - jb), T(0));
    return false;
  }
  T sum = 0;
  for (int64_t t = 0; t < je - jb; ++t) {
    w[t] = w[t] == -INFINITY ? T(0) : std::exp(w[t] - m);
    sum += w[t];
  }
  for (int64_t t = 0; t < je - jb; ++t) w[t] /= sum;
  return true;
}

// M_ij for j in [jb, je): Z_ij / (1 − p), or 1 without dropout (attention.h's mask, per flat index).
template <class T>
void row_multipliers(const AttentionParams& p, int64_t bh, int64_t i, int64_t jb, int64_t je, T* M) {
  if (p.dropout == 0.0) {
    std::fill(M, M + (je - jb), T(1));
    return;
  }
  const uint32_t threshold = attention_dropout_threshold(p.dropout);
  const T kept = T(1.0 / (1.0 - p.dropout));
  const uint64_t first = p.dropout_first + uint64_t((bh * p.L + i) * p.L);
  for (int64_t j = jb; j < je; ++j)
    M[j - jb] = attention_dropped(p.dropout_seed, p.dropout_offset, first + uint64_t(j), threshold) ? T(0) : kept;
}

template <class T>
const T* bias_row_of(const AttentionParams& p, const T* bias, int64_t b, int64_t h, int64_t i) {
  return bias ? bias + b * p.bias_batch_stride + (h * p.L + i) * p.L : nullptr;
}

}  // namespace

template <class T>
void attention_forward_rows(const AttentionParams& p, const T* q, const T* k, const T* v, const T* bias, T* out) {
  const int64_t L = p.L, D = p.D, BH = p.B * p.H;
  const AttentionStructure st = attention_structure(p);
#pragma omp parallel
  {
    const size_t row = static_cast<size_t>(L);
    std::vector<T> w(row), M(row);
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < BH; ++bh) {
      const int64_t b = bh / p.H, h = bh % p.H, off = bh * L * D;
      const T *qb = q + off, *kb = k + off, *vb = v + off;
      for (int64_t i = 0; i < L; ++i) {
        T* o = out + off + i * D;
        std::fill(o, o + D, T(0));
        int64_t jb = 0, je = 0;
        attention_key_range(st, L, i, i + 1, &jb, &je);
        if (je <= jb) continue;
        if (!row_probabilities(p, st, b, h, i, qb + i * D, kb, bias_row_of(p, bias, b, h, i), jb, je, w.data(),
                               static_cast<T*>(nullptr)))
          continue;
        row_multipliers(p, bh, i, jb, je, M.data());
        for (int64_t j = jb; j < je; ++j) {
          const T a = w[size_t(j - jb)] * M[size_t(j - jb)];
          if (a == T(0)) continue;
          const T* vj = vb + j * D;
          for (int64_t c = 0; c < D; ++c) o[c] += a * vj[c];
        }
      }
    }
  }
}

template <class T>
void attention_backward_rows(const AttentionParams& p, const T* q, const T* k, const T* v, const T* bias,
                             const T* gout, T* gq, T* gk, T* gv, T* gbias) {
  const int64_t L = p.L, D = p.D, BH = p.B * p.H;
  const AttentionStructure st = attention_structure(p);
#pragma omp parallel
  {
    const size_t row = static_cast<size_t>(L);
    std::vector<T> w(row), F(row), M(row), dP(row);
#pragma omp for schedule(dynamic)
    for (int64_t bh = 0; bh < BH; ++bh) {
      const int64_t b = bh / p.H, h = bh % p.H, off = bh * L * D;
      const T *qb = q + off, *kb = k + off, *vb = v + off, *gob = gout + off;
      T *gqb = gq + off, *gkb = gk + off, *gvb = gv + off;
      std::fill(gqb, gqb + L * D, T(0));
      std::fill(gkb, gkb + L * D, T(0));
      std::fill(gvb, gvb + L * D, T(0));
      T* gbb = gbias ? gbias + bh * L * L : nullptr;  // always the full [B, H, L, L]
      if (gbb) std::fill(gbb, gbb + L * L, T(0));
      for (int64_t i = 0; i < L; ++i) {
        int64_t jb = 0, je = 0;
        attention_key_range(st, L, i, i + 1, &jb, &je);
        if (je <= jb) continue;
        if (!row_probabilities(p, st, b, h, i, qb + i * D, kb, bias_row_of(p, bias, b, h, i), jb, je, w.data(),
                               F.data()))
          continue;
        row_multipliers(p, bh, i, jb, je, M.data());
        const T* goi = gob + i * D;
        T delta = 0;
        for (int64_t j = jb; j < je; ++j) {
          const size_t t = size_t(j - jb);
          if (w[t] == T(0)) {
            dP[t] = 0;
            continue;
          }
          const T* vj = vb + j * D;
          T d = 0;
          for (int64_t c = 0; c < D; ++c) d += goi[c] * vj[c];
          dP[t] = d * M[t];
          delta += w[t] * dP[t];
        }
        const T* qi = qb + i * D;
        T* gqi = gqb + i * D;
        for (int64_t j = jb; j < je; ++j) {
          const size_t t = size_t(j - jb);
          if (w[t] == T(0)) continue;
          const T dS = w[t] * (dP[t] - delta);
          if (gbb) gbb[i * L + j] = dS;
          const T g = dS * F[t], a = w[t] * M[t];
          const T* kj = kb + j * D;
          T* gkj = gkb + j * D;
          T* gvj = gvb + j * D;
          for (int64_t c = 0; c < D; ++c) {
            gqi[c] += g * kj[c];
            gkj[c] += g * qi[c];
            gvj[c] += a * goi[c];
          }
        }
      }
    }
  }
}

#define LRA_INSTANTIATE(T)                                                                                     \
  template void attention_forward_rows<T>(const AttentionParams&, const T*, const T*, const T*, const T*, T*); \
  template void attention_backward_rows<T>(const AttentionParams&, const T*, const T*, const T*, const T*,     \
                                           const T*, T*, T*, T*, T*);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
