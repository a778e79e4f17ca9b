// The S4D convolution kernel: a Vandermonde sum over diagonal complex modes, with the ZOH discretisation.
//
//   dt[h]    = exp(log_dt[h])
//   A[h,n]   = −exp(log_A_real[h,n]) + i·A_imag[h,n]
//   z[h,n]   = A·dt                                   (dtA)
//   w[h,n]   = C[h,n]·(exp(z) − 1)/A                  (C̃: ZOH, B absorbed into C)
//   K[h,l]   = 2·Re Σ_n w[h,n]·exp(z[h,n]·l),   l = 0..L−1
//
//   log_dt [H]; log_A_real, A_imag [H, N]; C [H, N, 2] (complex as interleaved (re, im) pairs); K [H, L].
//   Any of H, N, L may be 0: K is then 0 [H, L] (a sum over no modes, or no entries) and every gradient
//   is 0, on both devices.
//   N counts the complex modes stored (S4D's d_state/2: the conjugate half is the "2·Re").
//   The [H, N, L] tensor of powers exp(z·l) is never materialised: each output sums its N modes in
//   registers (exp(z·l) = e^{Re z·l}·(cos(Im z·l), sin(Im z·l)), evaluated directly, not by repeated
//   multiplication, so the error does not grow with l).
//
// Backward (G = ∂K; complex gradients packed as g = ∂/∂re + i·∂/∂im, so a holomorphic f gives
// g_x = conj(f'(x))·g_f):
//   S0 = Σ_l G[l]·conj(E_l),  S1 = Σ_l G[l]·l·conj(E_l),  E_l = exp(z·l)     (per mode, one pass over l)
//   g_w = 2·S0;  g_z = 2·conj(w)·S1
//   q = (exp(z) − 1)/A:  g_C = conj(q)·g_w;  g_q = conj(C)·g_w;  g_z += conj(exp(z)/A)·g_q;
//                        g_A = −conj(q/A)·g_q + dt·g_z;  g_dt = Re(conj(A)·g_z)
//   g_log_A_real = Re(g_A)·(−exp(log_A_real));  g_A_imag = Im(g_A);  g_log_dt[h] = dt·Σ_n g_dt[h,n]
// The per-mode formulas (ssm_mode / ssm_mode_backward below) are shared by the CPU reference and the
// CUDA kernels, so the two cannot drift; the sums over l and n are written out in each.
// Saved for backward: the four inputs (the modes are recomputed). Cost: forward H·N·L complex
// exponentials (≈ 20 flops each), writes 4·H·L bytes; backward the same exponentials, reads 4·H·L bytes.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/tensor.h"

#if defined(__CUDACC__)
#define LRA_SSM_HD __host__ __device__ inline
#else
#define LRA_SSM_HD inline
#endif

namespace lra::ops {

// K [H, L] from the S4D parameters above. Differentiable in all four inputs.
Tensor ssm_kernel(const Tensor& log_dt, const Tensor& log_A_real, const Tensor& A_imag, const Tensor& C, int64_t L);

struct SSMKernelShape {
  int64_t H = 1, N = 1, L = 1;
};

// A minimal complex number usable on host and device (std::complex is host-only in CUDA).
template <class T>
struct SSMComplex {
  T re, im;
};
template <class T> LRA_SSM_HD SSMComplex<T> cmul(SSMComplex<T> a, SSMComplex<T> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <class T> LRA_SSM_HD SSMComplex<T> cconj(SSMComplex<T> a) { return {a.re, -a.im}; }
template <class T> LRA_SSM_HD SSMComplex<T> cdiv(SSMComplex<T> a, SSMComplex<T> b) {
  T d = b.re * b.re + b.im * b.im;
  return {(a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d};
}
LRA_SSM_HD float ssm_exp(float x) { return expf(x); }
LRA_SSM_HD double ssm_exp(double x) { return exp(x); }
LRA_SSM_HD float ssm_cos(float x) { return cosf(x); }
LRA_SSM_HD double ssm_cos(double x) { return cos(x); }
LRA_SSM_HD float ssm_sin(float x) { return sinf(x); }
LRA_SSM_HD double ssm_sin(double x) { return sin(x); }
// exp(z·l), evaluated directly.
template <class T> LRA_SSM_HD SSMComplex<T> ssm_power(SSMComplex<T> z, T l) {
  T mag = ssm_exp(z.re * l), ph = z.im * l;
  return {mag * ssm_cos(ph), mag * ssm_sin(ph)};
}

// One mode's discretisation: z = A·dt and w = C·(exp(z) − 1)/A (see the top of the file).
template <class T>
struct SSMMode {
  T dt;
  SSMComplex<T> A, C, ez, q, z, w;
};
template <class T>
LRA_SSM_HD SSMMode<T> ssm_mode(T log_dt, T log_a_re, T a_im, T c_re, T c_im) {
  SSMMode<T> m;
  m.dt = ssm_exp(log_dt);
  m.A = {-ssm_exp(log_a_re), a_im};
  m.C = {c_re, c_im};
  m.z = {m.A.re * m.dt, m.A.im * m.dt};
  m.ez = ssm_power(m.z, T(1));
  m.q = cdiv(SSMComplex<T>{m.ez.re - T(1), m.ez.im}, m.A);
  m.w = cmul(m.C, m.q);
  return m;
}

// One mode's gradients from its sums S0, S1 over l (see the top of the file). g_dt_mode is this mode's
// share of ∂/∂log_dt (the op sums it over n).
template <class T>
struct SSMModeGrad {
  T g_log_dt, g_log_a_re, g_a_im, g_c_re, g_c_im;
};
template <class T>
LRA_SSM_HD SSMModeGrad<T> ssm_mode_backward(const SSMMode<T>& m, SSMComplex<T> S0, SSMComplex<T> S1) {
  SSMComplex<T> gw = {T(2) * S0.re, T(2) * S0.im};
  SSMComplex<T> gz = cmul(cconj(m.w), SSMComplex<T>{T(2) * S1.re, T(2) * S1.im});
  SSMComplex<T> gC = cmul(cconj(m.q), gw);
  SSMComplex<T> gq = cmul(cconj(m.C), gw);
  SSMComplex<T> dq_dz = cdiv(m.ez, m.A);
  SSMComplex<T> t = cmul(cconj(dq_dz), gq);
  gz.re += t.re;
  gz.im += t.im;
  SSMComplex<T> dq_dA = cdiv(m.q, m.A);  // ∂q/∂A = −q/A
  SSMComplex<T> gA = cmul(cconj(dq_dA), gq);
  gA = {-gA.re + m.dt * gz.re, -gA.im + m.dt * gz.im};
  T g_dt = m.A.re * gz.re + m.A.im * gz.im;  // Re(conj(A)·g_z)
  return {m.dt * g_dt, gA.re * m.A.re, gA.im, gC.re, gC.im};
}

// Raw entry points. Backward writes every gradient (fresh, not accumulated).
namespace cpu {
template <class T>
void ssm_kernel_forward(const SSMKernelShape& s, const T* log_dt, const T* log_A_real, const T* A_imag, const T* C,
                        T* K);
template <class T>
void ssm_kernel_backward(const SSMKernelShape& s, const T* log_dt, const T* log_A_real, const T* A_imag, const T* C,
                         const T* gK, T* g_log_dt, T* g_log_A_real, T* g_A_imag, T* gC);
}  // namespace cpu

namespace cuda {
// Scratch floats: forward 4·H·N (the modes' z and w), backward H·N (each mode's share of g_log_dt).
inline int64_t ssm_kernel_forward_scratch(const SSMKernelShape& s) { return 4 * s.H * s.N; }
inline int64_t ssm_kernel_backward_scratch(const SSMKernelShape& s) { return s.H * s.N; }
void ssm_kernel_forward(const SSMKernelShape& s, const float* log_dt, const float* log_A_real, const float* A_imag,
                        const float* C, float* K, float* scratch);
void ssm_kernel_backward(const SSMKernelShape& s, const float* log_dt, const float* log_A_real, const float* A_imag,
                         const float* C, const float* gK, float* g_log_dt, float* g_log_A_real, float* g_A_imag,
                         float* gC, float* scratch);
}  // namespace cuda

}  // namespace lra::ops
