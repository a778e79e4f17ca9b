// MEGA's multi-dimensional damped EMA, as the convolution kernel it is (facebookresearch/mega,
// fairseq/modules/exponential_moving_average.py 74–90, `_calc_coeffs` and `_compute_kernel`).
//
//   p[d,n] = σ(delta[d,n])                  (the paper's input weight α: the code's `delta`)
//   a[d,n] = σ(alpha[d,n])                  (the paper's damping δ: the code's `alpha`)
//   q[d,n] = 1 − p·a                        (the decay, in (0, 1))
//   c[d,n] = gamma[d,n]·√(1/N)·beta[d,n]·p  (the mode's weight: projection γ, expansion β, input weight p)
//   K[d,l] = Σ_n c[d,n]·q[d,n]^l,   l = 0..L−1
//
//   delta, alpha, beta, gamma [D, N] (the reference stores the first three as [D, N, 1]); K [D, L].
//   D counts kernel rows: 2·embed for the bidirectional EMA (rows D/2.. are the anti-causal kernels).
//   q^l is evaluated directly as exp(l·log q) (as the reference's Vandermonde does), with q^0 = 1, so the
//   error does not grow with l; the [D, N, L] tensor of powers is never materialised: each output sums its
//   N modes in registers.
//   Any of D, N, L may be 0: K is then 0 [D, L] and every gradient is 0, on both devices.
//
// Backward (G = ∂K), per mode, one pass over l:
//   S0 = Σ_l G[l]·q^l,   S1 = Σ_{l≥1} G[l]·l·q^(l−1)
//   g_c = S0;  g_q = c·S1
//   g_gamma = √(1/N)·beta·p·g_c;  g_beta = gamma·√(1/N)·p·g_c;  g_p = gamma·√(1/N)·beta·g_c − a·g_q
//   g_a = −p·g_q;  g_delta = p(1−p)·g_p;  g_alpha = a(1−a)·g_a
// The per-mode formulas (ema_mode / ema_mode_backward) are shared by the CPU reference and the CUDA
// kernels. Saved for backward: the four inputs (the modes are recomputed). On the CPU, float32 runs
// ema_cpu_fast.cpp (powers by multiplication, one exp per 64 taps); float64 runs the reference.
// Cost: forward D·N·L exponentials (≈ 4 flops + exp each), writes 4·D·L bytes; backward 2·D·N·L
// exponentials, reads G once per mode (4·D·N·L bytes, mostly cache-served).
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/tensor.h"

#if defined(__CUDACC__)
#define LRA_EMA_HD __host__ __device__ inline
#else
#define LRA_EMA_HD inline
#endif

namespace lra::ops {

// K [D, L] from the EMA parameters above. Differentiable in all four inputs.
Tensor ema_kernel(const Tensor& delta, const Tensor& alpha, const Tensor& beta, const Tensor& gamma, int64_t L);

struct EMAKernelShape {
  int64_t D = 1, N = 1, L = 1;
};

LRA_EMA_HD float ema_exp(float x) { return expf(x); }
LRA_EMA_HD double ema_exp(double x) { return exp(x); }
LRA_EMA_HD float ema_log(float x) { return logf(x); }
LRA_EMA_HD double ema_log(double x) { return log(x); }
template <class T> LRA_EMA_HD T ema_sigmoid(T x) { return T(1) / (T(1) + ema_exp(-x)); }
// q^l for an integer l ≥ 0, as exp(l·log q) with q^0 = 1 exactly (no 0·log 0).
template <class T> LRA_EMA_HD T ema_power(T log_q, int64_t l) { return l == 0 ? T(1) : ema_exp(T(l) * log_q); }

// One mode: its decay and weight (see the top of the file).
template <class T>
struct EMAMode {
  T p, a, q, log_q, scale, c;
};
template <class T>
LRA_EMA_HD EMAMode<T> ema_mode(T delta, T alpha, T beta, T gamma, int64_t N) {
  EMAMode<T> m;
  m.p = ema_sigmoid(delta);
  m.a = ema_sigmoid(alpha);
  m.q = T(1) - m.p * m.a;
  m.log_q = ema_log(m.q);
  m.scale = T(1) / sqrt(T(N));
  m.c = gamma * m.scale * beta * m.p;
  return m;
}

template <class T>
struct EMAModeGrad {
  T g_delta, g_alpha, g_beta, g_gamma;
};
// The mode's gradients from its sums S0 = Σ G·q^l and S1 = Σ G·l·q^(l−1).
template <class T>
LRA_EMA_HD EMAModeGrad<T> ema_mode_backward(const EMAMode<T>& m, T beta, T gamma, T S0, T S1) {
  T g_c = S0, g_q = m.c * S1;
  T g_p = gamma * m.scale * beta * g_c - m.a * g_q;
  T g_a = -m.p * g_q;
  return {m.p * (T(1) - m.p) * g_p, m.a * (T(1) - m.a) * g_a, gamma * m.scale * m.p * g_c,
          m.scale * beta * m.p * g_c};
}

// Raw entry points. Backward writes every gradient (fresh, not accumulated).
namespace cpu {
template <class T>
void ema_kernel_forward(const EMAKernelShape& s, const T* delta, const T* alpha, const T* beta, const T* gamma, T* K);
template <class T>
void ema_kernel_backward(const EMAKernelShape& s, const T* delta, const T* alpha, const T* beta, const T* gamma,
                         const T* gK, T* g_delta, T* g_alpha, T* g_beta, T* g_gamma);
// The float32 path the op runs (ema_cpu_fast.cpp): the same sums, powers by multiplication in double
// re-anchored every 64 taps, rows over OpenMP threads (thread-count independent). Same contract as above.
void ema_kernel_forward_fast(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                             const float* gamma, float* K);
void ema_kernel_backward_fast(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                              const float* gamma, const float* gK, float* g_delta, float* g_alpha, float* g_beta,
                              float* g_gamma);
}  // namespace cpu

namespace cuda {
// Scratch floats for the forward: 2·D·N (each mode's c and log q).
inline int64_t ema_kernel_forward_scratch(const EMAKernelShape& s) { return 2 * s.D * s.N; }
void ema_kernel_forward(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                        const float* gamma, float* K, float* scratch);
void ema_kernel_backward(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                         const float* gamma, const float* gK, float* g_delta, float* g_alpha, float* g_beta,
                         float* g_gamma);
}  // namespace cuda

}  // namespace lra::ops
