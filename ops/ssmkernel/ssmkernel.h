// The S4D convolution kernel: a Vandermonde sum over diagonal complex modes (state-spaces/s4,
// src/models/sequence/kernels/ssm.py, SSMKernelDiag.forward), ZOH or bilinear.
//
//   dt[h]    = exp(p[h])  or  softplus(p[h]) = log(1 + exp(p[h]))       (p = log_dt or inv_dt: dt transform)
//   A[h,n]   = −exp(log_A_real[h,n]) + i·A_imag[h,n]
//   z[h,n]   = A·dt                                                      (dtA)
//   ZOH:       e = z,                           w = B·C·(exp(z) − 1)/A
//   bilinear:  e = log((1 + z/2)/(1 − z/2)),    w = B·C·dt/(1 − z/2)     (exp(e·l) = dA^l, dA the bilinear Ā)
//   K[h,l]   = 2·Re Σ_n w[h,n]·exp(e[h,n]·l),   l = 0..L−1
//
//   p [H]; log_A_real, A_imag [H, N]; B, C [H, N, 2] (complex as interleaved (re, im) pairs; B may be
//   left undefined, meaning B = 1 with no gradient); K [H, L].
//   Any of H, N, L may be 0: K is then 0 [H, L] (a sum over no modes, or no entries) and every gradient
//   is 0, on both devices.
//   N counts the complex modes stored (S4D's d_state/2: the conjugate half is the "2·Re"). The engine's
//   sign is Im A = +A_imag where S4 writes A = −exp(A_real) − i·A_imag: the engine's modes are the
//   complex conjugates of S4's for the same stored A_imag, so with B and C conjugated K is the same real
//   kernel (2·Re of a conjugate is the same number) and the stored A_imag values equal S4's.
//   The [H, N, L] tensor of powers exp(e·l) is never materialised: each output sums its N modes in
//   registers (exp(e·l) = e^{Re e·l}·(cos(Im e·l), sin(Im e·l)), evaluated directly, not by repeated
//   multiplication, so the error does not grow with l).
//
// Backward (G = ∂K; complex gradients packed as g = ∂/∂re + i·∂/∂im, so a holomorphic f gives
// g_x = conj(f'(x))·g_f, and a real x with complex f gives g_x = Re(conj(f'(x))·g_f)):
//   S0 = Σ_l G[l]·conj(E_l),  S1 = Σ_l G[l]·l·conj(E_l),  E_l = exp(e·l)     (per mode, one pass over l)
//   g_w = 2·S0;  g_e = 2·conj(w)·S1;  w = BC·f with BC = B·C:
//   g_BC = conj(f)·g_w,  g_B = conj(C)·g_BC,  g_C = conj(B)·g_BC,  g_f = conj(BC)·g_w
//   ZOH (f = q = (exp(z) − 1)/A):  g_z = g_e + conj(exp(z)/A)·g_f;  g_A = −conj(q/A)·g_f + dt·g_z;
//                                  g_dt = Re(conj(A)·g_z)
//   bilinear (f = r = dt/(1 − z/2), de/dz = 1/(1 − z²/4)):  g_z = conj(1/(1 − z²/4))·g_e;
//                                  g_A = dt·g_z + conj(dt²/(2(1 − z/2)²))·g_f;
//                                  g_dt = Re(conj(A)·g_z) + Re(conj(1/(1 − z/2)²)·g_f)
//   g_log_A_real = Re(g_A)·(−exp(log_A_real));  g_A_imag = Im(g_A);
//   g_p[h] = dt'(p)·Σ_n g_dt[h,n]   (dt' = dt for exp, sigmoid(p) for softplus)
// The per-mode formulas (ssm_mode / ssm_mode_backward below) are shared by the CPU reference and the
// CUDA kernels, so the two cannot drift; the sums over l and n are written out in each.
// Saved for backward: the inputs (the modes are recomputed). Cost: forward H·N·L complex exponentials
// (≈ 20 flops each), writes 4·H·L bytes; backward the same exponentials, reads 4·H·L bytes. The
// discretisation and the dt transform are per mode (H·N work), free next to the H·N·L sums.
// CPU paths: float64 runs the reference loops below (the spec the tests use); float32 runs
// ssmkernel_cpu_fast.cpp, the same sums with the powers by a recurrence re-anchored every 64 taps (one complex
// multiply per entry instead of exp, cos and sin) and channels in parallel: an s4d step at L 4096 (width 128,
// N 64) spent 56% of its backward in the reference's kernel gradient.
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

// How dt is parameterised: S4D's minimal layer and SSMKernelDiag's class default take dt = exp(p);
// S4's layer config (configs/model/layer/s4.yaml, dt_transform: softplus) takes dt = softplus(p).
enum class SSMDt { Exp, Softplus };
// How the continuous modes are discretised: zero-order hold (S4D's default) or bilinear (S4's DPLR kernel).
enum class SSMDisc { ZOH, Bilinear };

struct SSMKernelOptions {
  SSMDt dt = SSMDt::Exp;
  SSMDisc disc = SSMDisc::ZOH;
};

// K [H, L] from the parameters above. Differentiable in every input; B may be undefined (B = 1).
Tensor ssm_kernel(const Tensor& dt_param, const Tensor& log_A_real, const Tensor& A_imag, const Tensor& B,
                  const Tensor& C, int64_t L, const SSMKernelOptions& options = {});
// S4D's minimal kernel (models/s4/s4d.py): dt = exp(log_dt), ZOH, B = 1.
inline Tensor ssm_kernel(const Tensor& log_dt, const Tensor& log_A_real, const Tensor& A_imag, const Tensor& C,
                         int64_t L) {
  return ssm_kernel(log_dt, log_A_real, A_imag, Tensor(), C, L, SSMKernelOptions{});
}

// The sizes and the two choices: everything a kernel needs besides the pointers.
struct SSMKernelShape {
  int64_t H = 1, N = 1, L = 1;
  SSMKernelOptions opt;
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
template <class T> LRA_SSM_HD SSMComplex<T> cscale(SSMComplex<T> a, T s) { return {a.re * s, a.im * s}; }
template <class T> LRA_SSM_HD SSMComplex<T> cadd(SSMComplex<T> a, SSMComplex<T> b) { return {a.re + b.re, a.im + b.im}; }
LRA_SSM_HD float ssm_exp(float x) { return expf(x); }
LRA_SSM_HD double ssm_exp(double x) { return exp(x); }
LRA_SSM_HD float ssm_log(float x) { return logf(x); }
LRA_SSM_HD double ssm_log(double x) { return log(x); }
LRA_SSM_HD float ssm_log1p(float x) { return log1pf(x); }
LRA_SSM_HD double ssm_log1p(double x) { return log1p(x); }
LRA_SSM_HD float ssm_atan2(float y, float x) { return atan2f(y, x); }
LRA_SSM_HD double ssm_atan2(double y, double x) { return atan2(y, x); }
LRA_SSM_HD float ssm_cos(float x) { return cosf(x); }
LRA_SSM_HD double ssm_cos(double x) { return cos(x); }
LRA_SSM_HD float ssm_sin(float x) { return sinf(x); }
LRA_SSM_HD double ssm_sin(double x) { return sin(x); }
// exp(z·l), evaluated directly.
template <class T> LRA_SSM_HD SSMComplex<T> ssm_power(SSMComplex<T> z, T l) {
  T mag = ssm_exp(z.re * l), ph = z.im * l;
  return {mag * ssm_cos(ph), mag * ssm_sin(ph)};
}
// The principal logarithm.
template <class T> LRA_SSM_HD SSMComplex<T> ssm_clog(SSMComplex<T> a) {
  return {T(0.5) * ssm_log(a.re * a.re + a.im * a.im), ssm_atan2(a.im, a.re)};
}

// dt from its parameter p, and d dt / dp. softplus is written overflow-free: max(p, 0) + log1p(exp(−|p|)).
template <class T>
LRA_SSM_HD void ssm_dt(SSMDt how, T p, T& dt, T& ddt) {
  if (how == SSMDt::Exp) {
    dt = ssm_exp(p);
    ddt = dt;
  } else {
    T a = p < T(0) ? -p : p;
    dt = (p > T(0) ? p : T(0)) + ssm_log1p(ssm_exp(-a));
    ddt = p >= T(0) ? T(1) / (T(1) + ssm_exp(-p)) : ssm_exp(p) / (T(1) + ssm_exp(p));  // sigmoid(p)
  }
}

// One mode's discretisation (see the top of the file): the exponent e and the weight w = BC·f.
template <class T>
struct SSMMode {
  T dt, ddt;                     // dt and d dt / dp
  SSMComplex<T> A, B, C, BC, z;  // z = A·dt
  SSMComplex<T> f;               // ZOH: q = (exp(z) − 1)/A; bilinear: r = dt/(1 − z/2)
  SSMComplex<T> aux;             // ZOH: exp(z); bilinear: 1 − z/2
  SSMComplex<T> e, w;
};
template <class T>
LRA_SSM_HD SSMMode<T> ssm_mode(const SSMKernelOptions& o, T p_dt, T log_a_re, T a_im, SSMComplex<T> B,
                               SSMComplex<T> C) {
  SSMMode<T> m;
  ssm_dt(o.dt, p_dt, m.dt, m.ddt);
  m.A = {-ssm_exp(log_a_re), a_im};
  m.B = B;
  m.C = C;
  m.BC = cmul(B, C);
  m.z = cscale(m.A, m.dt);
  if (o.disc == SSMDisc::ZOH) {
    m.aux = ssm_power(m.z, T(1));
    m.f = cdiv(SSMComplex<T>{m.aux.re - T(1), m.aux.im}, m.A);
    m.e = m.z;
  } else {
    m.aux = {T(1) - m.z.re / T(2), -m.z.im / T(2)};
    m.f = cdiv(SSMComplex<T>{m.dt, T(0)}, m.aux);
    m.e = ssm_clog(cdiv(SSMComplex<T>{T(1) + m.z.re / T(2), m.z.im / T(2)}, m.aux));
  }
  m.w = cmul(m.BC, m.f);
  return m;
}

// One mode's gradients from its sums S0, S1 over l (see the top of the file). g_p is this mode's share
// of ∂/∂p (the op sums it over n).
template <class T>
struct SSMModeGrad {
  T g_p, g_log_a_re, g_a_im;
  SSMComplex<T> gB, gC;
};
template <class T>
LRA_SSM_HD SSMModeGrad<T> ssm_mode_backward(const SSMKernelOptions& o, const SSMMode<T>& m, SSMComplex<T> S0,
                                            SSMComplex<T> S1) {
  SSMComplex<T> gw = cscale(S0, T(2));
  SSMComplex<T> ge = cmul(cconj(m.w), cscale(S1, T(2)));
  SSMComplex<T> gBC = cmul(cconj(m.f), gw);
  SSMComplex<T> gf = cmul(cconj(m.BC), gw);
  SSMComplex<T> gz, gA;
  T g_dt;
  if (o.disc == SSMDisc::ZOH) {
    gz = cadd(ge, cmul(cconj(cdiv(m.aux, m.A)), gf));  // ∂q/∂z = exp(z)/A
    SSMComplex<T> dq_dA = cdiv(m.f, m.A);              // ∂q/∂A = −q/A
    SSMComplex<T> t = cmul(cconj(dq_dA), gf);
    gA = {-t.re + m.dt * gz.re, -t.im + m.dt * gz.im};
    g_dt = m.A.re * gz.re + m.A.im * gz.im;  // Re(conj(A)·g_z)
  } else {
    SSMComplex<T> one{T(1), T(0)};
    SSMComplex<T> den2 = cmul(m.aux, m.aux);                                          // (1 − z/2)²
    SSMComplex<T> de_dz = cdiv(one, cmul(m.aux, SSMComplex<T>{T(1) + m.z.re / T(2), m.z.im / T(2)}));
    gz = cmul(cconj(de_dz), ge);
    SSMComplex<T> dr_dA = cdiv(SSMComplex<T>{m.dt * m.dt / T(2), T(0)}, den2);
    SSMComplex<T> dr_ddt = cdiv(one, den2);
    gA = cadd(cscale(gz, m.dt), cmul(cconj(dr_dA), gf));
    SSMComplex<T> t = cmul(cconj(dr_ddt), gf);
    g_dt = m.A.re * gz.re + m.A.im * gz.im + t.re;
  }
  SSMModeGrad<T> g;
  g.g_p = m.ddt * g_dt;
  g.g_log_a_re = gA.re * m.A.re;  // ∂Re A/∂log_A_real = −exp(log_A_real) = Re A
  g.g_a_im = gA.im;
  g.gB = cmul(cconj(m.C), gBC);
  g.gC = cmul(cconj(m.B), gBC);
  return g;
}

// Raw entry points. B and gB may be null (B = 1). Backward writes every gradient (fresh, not accumulated).
namespace cpu {
template <class T>
void ssm_kernel_forward(const SSMKernelShape& s, const T* p_dt, const T* log_A_real, const T* A_imag, const T* B,
                        const T* C, T* K);
template <class T>
void ssm_kernel_backward(const SSMKernelShape& s, const T* p_dt, const T* log_A_real, const T* A_imag, const T* B,
                         const T* C, const T* gK, T* g_p_dt, T* g_log_A_real, T* g_A_imag, T* gB, T* gC);
// The float32 path the op runs (ssmkernel_cpu_fast.cpp): powers by a re-anchored recurrence in double,
// channels in parallel; the templates above are the reference it is tested against (float64 runs them).
void ssm_kernel_forward_fast(const SSMKernelShape& s, const float* p_dt, const float* log_A_real, const float* A_imag,
                             const float* B, const float* C, float* K);
void ssm_kernel_backward_fast(const SSMKernelShape& s, const float* p_dt, const float* log_A_real,
                              const float* A_imag, const float* B, const float* C, const float* gK, float* g_p_dt,
                              float* g_log_A_real, float* g_A_imag, float* gB, float* gC);
}  // namespace cpu

namespace cuda {
// Scratch floats: forward 4·H·N (the modes' e and w), backward H·N (each mode's share of g_p).
inline int64_t ssm_kernel_forward_scratch(const SSMKernelShape& s) { return 4 * s.H * s.N; }
inline int64_t ssm_kernel_backward_scratch(const SSMKernelShape& s) { return s.H * s.N; }
void ssm_kernel_forward(const SSMKernelShape& s, const float* p_dt, const float* log_A_real, const float* A_imag,
                        const float* B, const float* C, float* K, float* scratch);
void ssm_kernel_backward(const SSMKernelShape& s, const float* p_dt, const float* log_A_real, const float* A_imag,
                         const float* B, const float* C, const float* gK, float* g_p_dt, float* g_log_A_real,
                         float* g_A_imag, float* gB, float* gC, float* scratch);
}  // namespace cuda

// B's (re, im) at mode hn, or 1 when B is null.
template <class T> LRA_SSM_HD SSMComplex<T> ssm_load_b(const T* B, int64_t hn) {
  return B ? SSMComplex<T>{B[2 * hn], B[2 * hn + 1]} : SSMComplex<T>{T(1), T(0)};
}

}  // namespace lra::ops
