// CPU reference for the reductions: plain loops over x viewed as [outer, n, inner].
#include "ops/reduce/reduce.h"

namespace lra::ops::cpu {

template <class T>
void sum_forward(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, T scale) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      T acc = T(0);
      for (int64_t j = 0; j < n; ++j) acc += x[(o * n + j) * inner + i];
      y[o * inner + i] = acc * scale;
    }
}

template <class T>
void sum_backward(const T* gy, T* gx, int64_t outer, int64_t n, int64_t inner, T scale) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < inner; ++i) gx[(o * n + j) * inner + i] = gy[o * inner + i] * scale;
}

template <class T>
void max_forward(const T* x, T* y, int32_t* argmax, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < n; ++j)  // ties keep the first; the first NaN beats everything after it
        if (max_beats(x[(o * n + j) * inner + i], x[(o * n + best) * inner + i])) best = j;
      y[o * inner + i] = x[(o * n + best) * inner + i];
      argmax[o * inner + i] = int32_t(best);
    }
}

template <class T>
void max_backward(const T* gy, const int32_t* argmax, T* gx, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) gx[(o * n + argmax[o * inner + i]) * inner + i] = gy[o * inner + i];
}

template <class T>
void masked_mean_forward(const T* x, const int32_t* mask, T* y, T* inv_count, int64_t B, int64_t L, int64_t D) {
  for (int64_t b = 0; b < B; ++b) {
    int64_t count = 0;
    for (int64_t l = 0; l < L; ++l) count += mask[b * L + l] != 0;
    T inv = count ? T(1) / T(count) : T(0);
    inv_count[b] = inv;
    for (int64_t d = 0; d < D; ++d) {
      T acc = T(0);
      for (int64_t l = 0; l < L; ++l)
        if (mask[b * L + l]) acc += x[(b * L + l) * D + d];
      y[b * D + d] = acc * inv;
    }
  }
}

template <class T>
void masked_mean_backward(const T* gy, const int32_t* mask, const T* inv_count, T* gx, int64_t B, int64_t L,
                          int64_t D) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t d = 0; d < D; ++d)
        gx[(b * L + l) * D + d] = mask[b * L + l] ? gy[b * D + d] * inv_count[b] : T(0);
}

#define LRA_INSTANTIATE(T)                                                                                 \
  template void sum_forward<T>(const T*, T*, int64_t, int64_t, int64_t, T);                               \
  template void sum_backward<T>(const T*, T*, int64_t, int64_t, int64_t, T);                              \
  template void max_forward<T>(const T*, T*, int32_t*, int64_t, int64_t, int64_t);                        \
  template void max_backward<T>(const T*, const int32_t*, T*, int64_t, int64_t, int64_t);                 \
  template void masked_mean_forward<T>(const T*, const int32_t*, T*, T*, int64_t, int64_t, int64_t);      \
  template void masked_mean_backward<T>(const T*, const int32_t*, const T*, T*, int64_t, int64_t, int64_t);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
