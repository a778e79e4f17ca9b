// CPU reference for dropout: one loop over [outer, T, inner], the mask value of (o, i) recomputed
// from the counter-based RNG for every t (cheap, and exactly what the CUDA kernel does).
#include "ops/dropout/dropout.h"

namespace lra::ops::cpu {

template <class T>
void dropout_apply(const T* x, T* y, int64_t outer, int64_t tied, int64_t inner, double p, uint64_t seed,
                   uint64_t base, int64_t first) {
  const T keep = T(1.0 - p);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t t = 0; t < tied; ++t)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t k = (o * tied + t) * inner + i;
        bool dropped = double(philox_uniform(seed, base, first + o * inner + i)) < p;
        y[k] = dropped ? T(0) : x[k] / keep;
      }
}

template void dropout_apply<float>(const float*, float*, int64_t, int64_t, int64_t, double, uint64_t, uint64_t,
                                   int64_t);
template void dropout_apply<double>(const double*, double*, int64_t, int64_t, int64_t, double, uint64_t, uint64_t,
                                    int64_t);

}  // namespace lra::ops::cpu
