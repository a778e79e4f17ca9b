// CPU reference for sequence average pooling: the direct O(L*P) sum of the definition in avgpool.h.
#include <algorithm>

#include "ops/avgpool/avgpool.h"

namespace lra::ops::cpu {

template <class T>
void avgpool_seq(const T* x, T* y, int64_t outer, int64_t L, int64_t inner, int P) {
  int64_t h = (P - 1) / 2;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t l = 0; l < L; ++l)
      for (int64_t c = 0; c < inner; ++c) {
        double s = 0;  // window positions outside [0, L) are zero padding: skip them
        for (int64_t m = std::max<int64_t>(l - h, 0); m <= std::min(l + h, L - 1); ++m)
          s += double(x[(o * L + m) * inner + c]);
        y[(o * L + l) * inner + c] = T(s / double(P));
      }
}

template void avgpool_seq<float>(const float*, float*, int64_t, int64_t, int64_t, int);
template void avgpool_seq<double>(const double*, double*, int64_t, int64_t, int64_t, int);

}  // namespace lra::ops::cpu
