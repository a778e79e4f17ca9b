// CPU reference for attention: the plain (softmax(QKᵀ·scale ⊙ decay + bias, masked) ⊙ M)·V with the
// full L×L matrices of one (b, h) at a time, forward and the exact softmax backward; M is the dropout
// multiplier Z/(1 − p) (all ones without dropout). It is the specification the CUDA kernels are checked
// against, so it favours obviousness over speed.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/attention/attention.h"

namespace lra::ops::cpu {

namespace {

// For one (b, h): P [L, L] (0 where excluded; a row with no included key is all 0) and F [L, L], the
// factor f_ij = scale · exp(−α_h|i−j|) by which s_ij depends on q_i · k_j.
template <class T>
void probabilities(const AttentionParams& p, int64_t b, int64_t h, const T* q, const T* k, const T* bias,
                   std::vector<T>& P, std::vector<T>& F) {
  const int64_t L = p.L, D = p.D;
  const T* bias_bh = bias ? bias + b * p.bias_batch_stride + h * L * L : nullptr;
  const int32_t* mask = p.key_mask ? p.key_mask + b * L : nullptr;
  const AttentionStructure structure = attention_structure(p);
  std::vector<char> included(size_t(L * L));
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = 0; j < L; ++j) {
      size_t ij = size_t(i * L + j);
      T f = T(p.scale);
      if (p.alpha) f *= std::exp(-T(p.alpha[h]) * T(std::abs(i - j)));
      T qk = 0;
      for (int64_t c = 0; c < D; ++c) qk += q[i * D + c] * k[j * D + c];
      T s = qk * f;
      if (bias_bh) s += bias_bh[ij];
      F[ij] = f;
      P[ij] = s;
      included[ij] = attention_pair_allowed(structure, i, j) && (!mask || mask[j] != 0);
    }
  // Row softmax over the included entries.
  for (int64_t i = 0; i < L; ++i) {
    T* row = P.data() + i * L;
    const char* in = included.data() + i * L;
    T m = -INFINITY;
    for (int64_t j = 0; j < L; ++j)
      if (in[j]) m = std::max(m, row[j]);
    T sum = 0;
    for (int64_t j = 0; j < L; ++j) {
      row[j] = in[j] ? std::exp(row[j] - m) : T(0);
      sum += row[j];
    }
    for (int64_t j = 0; j < L; ++j) row[j] = sum > 0 ? row[j] / sum : T(0);
  }
}

// For one (b, h): M [L, L], the dropout multiplier of each weight: Z_ij / (1 − p), Z_ij = 0 when
// weight ((b·H + h)·L + i)·L + j is dropped (attention.h), and all ones when p = 0.
template <class T>
void dropout_multipliers(const AttentionParams& p, int64_t b, int64_t h, std::vector<T>& M) {
  if (p.dropout == 0.0) {
    std::fill(M.begin(), M.end(), T(1));
    return;
  }
  const uint32_t threshold = attention_dropout_threshold(p.dropout);
  const T kept = T(1.0 / (1.0 - p.dropout));
  const uint64_t first = p.dropout_first + uint64_t((b * p.H + h) * p.L * p.L);
  for (size_t ij = 0; ij < M.size(); ++ij)
    M[ij] = attention_dropped(p.dropout_seed, p.dropout_offset, first + ij, threshold) ? T(0) : kept;
}

}  // namespace

template <class T>
void attention_forward(const AttentionParams& p, const T* q, const T* k, const T* v, const T* bias, T* out) {
  const int64_t L = p.L, D = p.D;
  std::vector<T> P(size_t(L * L)), F(size_t(L * L)), M(size_t(L * L));
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t h = 0; h < p.H; ++h) {
      const int64_t off = (b * p.H + h) * L * D;
      probabilities(p, b, h, q + off, k + off, bias, P, F);
      dropout_multipliers(p, b, h, M);
      for (int64_t i = 0; i < L; ++i)
        for (int64_t c = 0; c < D; ++c) {
          T acc = 0;
          for (int64_t j = 0; j < L; ++j) acc += P[size_t(i * L + j)] * M[size_t(i * L + j)] * v[off + j * D + c];
          out[off + i * D + c] = acc;
        }
    }
}

template <class T>
void attention_backward(const AttentionParams& p, const T* q, const T* k, const T* v, const T* bias, const T* gout,
                        T* gq, T* gk, T* gv, T* gbias) {
  const int64_t L = p.L, D = p.D;
  std::vector<T> P(size_t(L * L)), F(size_t(L * L)), M(size_t(L * L)), dS(size_t(L * L));
  for (int64_t b = 0; b < p.B; ++b)
    for (int64_t h = 0; h < p.H; ++h) {
      const int64_t off = (b * p.H + h) * L * D;
      const T *qb = q + off, *kb = k + off, *vb = v + off, *gob = gout + off;
      probabilities(p, b, h, qb, kb, bias, P, F);
      dropout_multipliers(p, b, h, M);
      // dP_ij = M_ij (gout_i · v_j);  dS_ij = P_ij (dP_ij − Σ_j' P_ij' dP_ij')  (softmax backward per row)
      for (int64_t i = 0; i < L; ++i) {
        T dot = 0;
        for (int64_t j = 0; j < L; ++j) {
          T dp = 0;
          for (int64_t c = 0; c < D; ++c) dp += gob[i * D + c] * vb[j * D + c];
          dp *= M[size_t(i * L + j)];
          dS[size_t(i * L + j)] = dp;
          dot += P[size_t(i * L + j)] * dp;
        }
        for (int64_t j = 0; j < L; ++j) {
          size_t ij = size_t(i * L + j);
          dS[ij] = P[ij] * (dS[ij] - dot);
        }
      }
      if (gbias)
        for (int64_t ij = 0; ij < L * L; ++ij) gbias[(b * p.H + h) * L * L + ij] = dS[size_t(ij)];
      // gq = (dS ⊙ F) k,  gk = (dS ⊙ F)ᵀ q,  gv = (P ⊙ M)ᵀ gout
      for (int64_t i = 0; i < L; ++i)
        for (int64_t c = 0; c < D; ++c) {
          T aq = 0, ak = 0, av = 0;
          for (int64_t j = 0; j < L; ++j) {
            size_t ij = size_t(i * L + j), ji = size_t(j * L + i);
            aq += dS[ij] * F[ij] * kb[j * D + c];
            ak += dS[ji] * F[ji] * qb[j * D + c];
            av += P[ji] * M[ji] * gob[j * D + c];
          }
          gq[off + i * D + c] = aq;
          gk[off + i * D + c] = ak;
          gv[off + i * D + c] = av;
        }
    }
}

#define LRA_INSTANTIATE(T)                                                                                      \
  template void attention_forward<T>(const AttentionParams&, const T*, const T*, const T*, const T*, T*);       \
  template void attention_backward<T>(const AttentionParams&, const T*, const T*, const T*, const T*, const T*, \
                                      T*, T*, T*, T*);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
