// CPU reference for the embedding lookup and its scatter-add backward: a row copy / row add per id.
#include "ops/embedding/embedding.h"

namespace lra::ops::cpu {

template <class T>
void embedding_forward(const int32_t* ids, const T* table, T* y, int64_t n, int64_t /*V*/, int64_t D) {
  for (int64_t i = 0; i < n; ++i) {
    const T* row = table + int64_t(ids[i]) * D;
    for (int64_t d = 0; d < D; ++d) y[i * D + d] = row[d];
  }
}

template <class T>
void embedding_backward(const int32_t* ids, const T* gy, T* dtable, int64_t n, int64_t /*V*/, int64_t D) {
  for (int64_t i = 0; i < n; ++i) {
    T* row = dtable + int64_t(ids[i]) * D;
    for (int64_t d = 0; d < D; ++d) row[d] += gy[i * D + d];
  }
}

#define LRA_INSTANTIATE(T)                                                                                 \
  template void embedding_forward<T>(const int32_t*, const T*, T*, int64_t, int64_t, int64_t);           \
  template void embedding_backward<T>(const int32_t*, const T*, T*, int64_t, int64_t, int64_t);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
