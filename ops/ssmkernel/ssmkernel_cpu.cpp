// CPU reference of the S4D Vandermonde kernel: plain loops over (h, l, n) forward and (h, n, l) backward,
// templated on the scalar type (float for parity with CUDA, double for the gradient check).
#include <vector>

#include "ops/ssmkernel/ssmkernel.h"

namespace lra::ops::cpu {

template <class T>
void ssm_kernel_forward(const SSMKernelShape& s, const T* p_dt, const T* log_A_real, const T* A_imag, const T* B,
                        const T* C, T* K) {
  std::vector<SSMMode<T>> modes(static_cast<size_t>(s.N));
  for (int64_t h = 0; h < s.H; ++h) {
    for (int64_t n = 0; n < s.N; ++n) {
      int64_t hn = h * s.N + n;
      modes[size_t(n)] = ssm_mode<T>(s.opt, p_dt[h], log_A_real[hn], A_imag[hn], ssm_load_b(B, hn),
                                     SSMComplex<T>{C[2 * hn], C[2 * hn + 1]});
    }
    for (int64_t l = 0; l < s.L; ++l) {
      T acc = 0;
      for (int64_t n = 0; n < s.N; ++n) {
        const SSMMode<T>& m = modes[size_t(n)];
        SSMComplex<T> e = ssm_power(m.e, T(l));
        acc += m.w.re * e.re - m.w.im * e.im;  // Re(w·E)
      }
      K[h * s.L + l] = T(2) * acc;
    }
  }
}

template <class T>
void ssm_kernel_backward(const SSMKernelShape& s, const T* p_dt, const T* log_A_real, const T* A_imag, const T* B,
                         const T* C, const T* gK, T* g_p_dt, T* g_log_A_real, T* g_A_imag, T* gB, T* gC) {
  for (int64_t h = 0; h < s.H; ++h) {
    T g_dt_sum = 0;
    for (int64_t n = 0; n < s.N; ++n) {
      int64_t hn = h * s.N + n;
      SSMMode<T> m = ssm_mode<T>(s.opt, p_dt[h], log_A_real[hn], A_imag[hn], ssm_load_b(B, hn),
                                 SSMComplex<T>{C[2 * hn], C[2 * hn + 1]});
      SSMComplex<T> S0{0, 0}, S1{0, 0};
      for (int64_t l = 0; l < s.L; ++l) {
        SSMComplex<T> e = ssm_power(m.e, T(l));
        T g = gK[h * s.L + l];
        S0.re += g * e.re;
        S0.im -= g * e.im;
        S1.re += g * T(l) * e.re;
        S1.im -= g * T(l) * e.im;
      }
      SSMModeGrad<T> gm = ssm_mode_backward(s.opt, m, S0, S1);
      g_dt_sum += gm.g_p;
      g_log_A_real[hn] = gm.g_log_a_re;
      g_A_imag[hn] = gm.g_a_im;
      if (gB) {
        gB[2 * hn] = gm.gB.re;
        gB[2 * hn + 1] = gm.gB.im;
      }
      gC[2 * hn] = gm.gC.re;
      gC[2 * hn + 1] = gm.gC.im;
    }
    g_p_dt[h] = g_dt_sum;
  }
}

#define LRA_INSTANTIATE(T)                                                                                     \
  template void ssm_kernel_forward<T>(const SSMKernelShape&, const T*, const T*, const T*, const T*, const T*, \
                                      T*);                                                                     \
  template void ssm_kernel_backward<T>(const SSMKernelShape&, const T*, const T*, const T*, const T*, const T*, \
                                       const T*, T*, T*, T*, T*, T*);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
