// CPU reference of LSH hashing and of the chunked look-one-back attention (lsh.h): plain loops, the
// 2C scores of a query held in a vector, float or double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/lsh/lsh.h"

namespace lra::ops::cpu {

template <class T>
void lsh_buckets(const T* rot, int32_t* buckets, int64_t R, int64_t L, int64_t n_hashes, int64_t h) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t a = 0; a < n_hashes; ++a)
      for (int64_t t = 0; t < L; ++t) {
        const T* x = rot + (r * L + t) * n_hashes * h + a * h;
        int64_t best = 0;
        T best_value = h > 0 ? x[0] : T(0);
        for (int64_t i = 1; i < 2 * h; ++i) {  // [x, −x]: the first of equal maxima wins
          const T value = i < h ? x[i] : -x[i - h];
          if (value > best_value) best = i, best_value = value;
        }
        buckets[r * n_hashes * L + a * L + t] = int32_t(a * 2 * h + best);
      }
}

namespace {

// The 2C scores of query row i (chunk c) in slot order, with the replaced ones flagged.
template <class T>
void scores(const LshShape& s, const T* q, const T* k, const int32_t* perm, const int32_t* mask, int64_t r,
            int64_t i, std::vector<T>& sc, std::vector<int>& kind) {
  const int64_t c = i / s.C;
  const T* qi = q + (r * s.N + i) * s.d;
  for (int64_t t = 0; t < 2 * s.C; ++t) {
    const int64_t j = lsh_key_row(s, c, t);
    const T* kj = k + (r * s.N + j) * s.d;
    T dot = 0;
    for (int64_t e = 0; e < s.d; ++e) dot += qi[e] * kj[e];
    kind[size_t(t)] = lsh_replaced(s, perm, mask, r, i, j);
    sc[size_t(t)] = kind[size_t(t)] == 1 ? T(kLshMaskValue) : kind[size_t(t)] == 2 ? T(kLshSelfValue) : T(s.scale) * dot;
  }
}

}  // namespace

template <class T>
void lsh_attention_forward(const LshShape& s, const T* q, const T* k, const T* v, const int32_t* perm,
                           const int32_t* mask, T* y) {
  std::vector<T> sc(size_t(2 * s.C));
  std::vector<int> kind(size_t(2 * s.C));
  const int64_t W = s.dv + 1;
  for (int64_t r = 0; r < s.R; ++r)
    for (int64_t i = 0; i < s.N; ++i) {
      scores(s, q, k, perm, mask, r, i, sc, kind);
      const T m = *std::max_element(sc.begin(), sc.end());
      T l = 0;
      for (T x : sc) l += std::exp(x - m);
      const T lse = m + std::log(l);
      T* yi = y + (r * s.N + i) * W;
      std::fill_n(yi, s.dv, T(0));
      for (int64_t t = 0; t < 2 * s.C; ++t) {
        const T p = std::exp(sc[size_t(t)] - lse);
        const T* vj = v + (r * s.N + lsh_key_row(s, i / s.C, t)) * s.dv;
        for (int64_t e = 0; e < s.dv; ++e) yi[e] += p * vj[e];
      }
      yi[s.dv] = lse;
    }
}

template <class T>
void lsh_attention_backward(const LshShape& s, const T* q, const T* k, const T* v, const int32_t* perm,
                            const int32_t* mask, const T* y, const T* gy, T* gq, T* gk, T* gv) {
  std::fill_n(gq, s.R * s.N * s.d, T(0));
  std::fill_n(gk, s.R * s.N * s.d, T(0));
  std::fill_n(gv, s.R * s.N * s.dv, T(0));
  std::vector<T> sc(size_t(2 * s.C));
  std::vector<int> kind(size_t(2 * s.C));
  const int64_t W = s.dv + 1;
  for (int64_t r = 0; r < s.R; ++r)
    for (int64_t i = 0; i < s.N; ++i) {
      scores(s, q, k, perm, mask, r, i, sc, kind);
      const T* yi = y + (r * s.N + i) * W;
      const T* gi = gy + (r * s.N + i) * W;
      const T lse = yi[s.dv], glse = gi[s.dv];
      T D = 0;
      for (int64_t e = 0; e < s.dv; ++e) D += gi[e] * yi[e];
      const T* qi = q + (r * s.N + i) * s.d;
      T* gqi = gq + (r * s.N + i) * s.d;
      for (int64_t t = 0; t < 2 * s.C; ++t) {
        const int64_t j = r * s.N + lsh_key_row(s, i / s.C, t);
        const T p = std::exp(sc[size_t(t)] - lse);
        const T* vj = v + j * s.dv;
        T dp = 0;
        for (int64_t e = 0; e < s.dv; ++e) {
          dp += gi[e] * vj[e];
          gv[j * s.dv + e] += p * gi[e];
        }
        if (kind[size_t(t)] != 0) continue;  // a replaced score is a constant
        const T ds = p * (dp - D + glse) * T(s.scale);
        const T* kj = k + j * s.d;
        for (int64_t e = 0; e < s.d; ++e) {
          gqi[e] += ds * kj[e];
          gk[j * s.d + e] += ds * qi[e];
        }
      }
    }
}

template void lsh_buckets<float>(const float*, int32_t*, int64_t, int64_t, int64_t, int64_t);
template void lsh_buckets<double>(const double*, int32_t*, int64_t, int64_t, int64_t, int64_t);
template void lsh_attention_forward<float>(const LshShape&, const float*, const float*, const float*,
                                           const int32_t*, const int32_t*, float*);
template void lsh_attention_forward<double>(const LshShape&, const double*, const double*, const double*,
                                            const int32_t*, const int32_t*, double*);
template void lsh_attention_backward<float>(const LshShape&, const float*, const float*, const float*,
                                            const int32_t*, const int32_t*, const float*, const float*, float*,
                                            float*, float*);
template void lsh_attention_backward<double>(const LshShape&, const double*, const double*, const double*,
                                             const int32_t*, const int32_t*, const double*, const double*, double*,
                                             double*, double*);

}  // namespace lra::ops::cpu
