// CPU reference of gather along an axis and its scatter-add backward (gather.h).
#include <algorithm>

#include "engine/base.h"
#include "ops/gather/gather.h"

namespace lra::ops::cpu {

template <class T>
void gather_forward(const GatherShape& s, const T* x, const int32_t* index, T* y) {
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t m = 0; m < s.M; ++m) {
      const int64_t n = index[o * s.M + m];
      LRA_CHECK(n >= 0 && n < s.N, "gather: index ", n, " at [", o, ", ", m, "] is outside [0, ", s.N, ")");
      std::copy_n(x + (o * s.N + n) * s.inner, s.inner, y + (o * s.M + m) * s.inner);
    }
}

template <class T>
void gather_backward(const GatherShape& s, const int32_t* index, const T* g, T* gx) {
  std::fill_n(gx, s.outer * s.N * s.inner, T(0));
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t m = 0; m < s.M; ++m) {
      const int64_t n = index[o * s.M + m];
      const T* src = g + (o * s.M + m) * s.inner;
      T* dst = gx + (o * s.N + n) * s.inner;
      for (int64_t c = 0; c < s.inner; ++c) dst[c] += src[c];
    }
}

template void gather_forward<float>(const GatherShape&, const float*, const int32_t*, float*);
template void gather_forward<double>(const GatherShape&, const double*, const int32_t*, double*);
template void gather_backward<float>(const GatherShape&, const int32_t*, const float*, float*);
template void gather_backward<double>(const GatherShape&, const int32_t*, const double*, double*);

}  // namespace lra::ops::cpu
