// CPU reference of MEGA's EMA kernel: plain loops over (d, l, n) forward and (d, n, l) backward, templated
// on the scalar type (float for parity with CUDA, double for the gradient check).
#include <vector>

#include "ops/ema/ema.h"

namespace lra::ops::cpu {

template <class T>
void ema_kernel_forward(const EMAKernelShape& s, const T* delta, const T* alpha, const T* beta, const T* gamma,
                        T* K) {
  std::vector<EMAMode<T>> modes(static_cast<size_t>(s.N));
  for (int64_t d = 0; d < s.D; ++d) {
    for (int64_t n = 0; n < s.N; ++n) {
      int64_t dn = d * s.N + n;
      modes[size_t(n)] = ema_mode<T>(delta[dn], alpha[dn], beta[dn], gamma[dn], s.N);
    }
    for (int64_t l = 0; l < s.L; ++l) {
      T acc = 0;
      for (int64_t n = 0; n < s.N; ++n) acc += modes[size_t(n)].c * ema_power(modes[size_t(n)].log_q, l);
      K[d * s.L + l] = acc;
    }
  }
}

template <class T>
void ema_kernel_backward(const EMAKernelShape& s, const T* delta, const T* alpha, const T* beta, const T* gamma,
                         const T* gK, T* g_delta, T* g_alpha, T* g_beta, T* g_gamma) {
  for (int64_t d = 0; d < s.D; ++d) {
    for (int64_t n = 0; n < s.N; ++n) {
      int64_t dn = d * s.N + n;
      EMAMode<T> m = ema_mode<T>(delta[dn], alpha[dn], beta[dn], gamma[dn], s.N);
      T S0 = 0, S1 = 0;
      for (int64_t l = 0; l < s.L; ++l) {
        T g = gK[d * s.L + l];
        S0 += g * ema_power(m.log_q, l);
        if (l > 0) S1 += g * T(l) * ema_power(m.log_q, l - 1);
      }
      EMAModeGrad<T> gm = ema_mode_backward(m, beta[dn], gamma[dn], S0, S1);
      g_delta[dn] = gm.g_delta;
      g_alpha[dn] = gm.g_alpha;
      g_beta[dn] = gm.g_beta;
      g_gamma[dn] = gm.g_gamma;
    }
  }
}

#define LRA_INSTANTIATE(T)                                                                                      \
  template void ema_kernel_forward<T>(const EMAKernelShape&, const T*, const T*, const T*, const T*, T*);       \
  template void ema_kernel_backward<T>(const EMAKernelShape&, const T*, const T*, const T*, const T*, const T*, \
                                       T*, T*, T*, T*);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
