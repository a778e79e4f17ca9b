// CPU reference of the running-state product (linear_attention.h): the loop over t as the formula
// reads, the state accumulated in double whatever T is. Sequences run in parallel (OpenMP).
#include <vector>

#include "ops/linear_attention/linear_attention.h"

namespace lra::ops::cpu {

template <class T>
void prefix_contract(const T* u, const T* w, const T* x, T* out, int64_t N, int64_t L, int64_t P, int64_t R,
                     bool reverse) {
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> M(size_t(P * R), 0.0);  // M[p, r] = sum over the steps so far of u[p] w[r]
    for (int64_t s = 0; s < L; ++s) {
      const int64_t t = reverse ? L - 1 - s : s;
      const T* ut = u + (n * L + t) * P;
      const T* xt = x + (n * L + t) * P;
      const T* wt = w + (n * L + t) * R;
      for (int64_t p = 0; p < P; ++p)
        for (int64_t r = 0; r < R; ++r) M[size_t(p * R + r)] += double(ut[p]) * double(wt[r]);
      T* ot = out + (n * L + t) * R;
      for (int64_t r = 0; r < R; ++r) {
        double acc = 0;
        for (int64_t p = 0; p < P; ++p) acc += double(xt[p]) * M[size_t(p * R + r)];
        ot[r] = T(acc);
      }
    }
  }
}

template void prefix_contract<float>(const float*, const float*, const float*, float*, int64_t, int64_t, int64_t,
                                     int64_t, bool);
template void prefix_contract<double>(const double*, const double*, const double*, double*, int64_t, int64_t,
                                      int64_t, int64_t, bool);

}  // namespace lra::ops::cpu
