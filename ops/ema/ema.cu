// CUDA kernels for MEGA's EMA kernel K[d,l] = Σ_n c[d,n]·q[d,n]^l (ema.h).
//   Forward: (1) modes_kernel, a thread per (d, n), writes the mode's (c, log q) into scratch [D, N, 2];
//            (2) power_sum_kernel, grid (⌈L/256⌉, D), a thread per (d, l) looping over the N modes of row d
//            (the same addresses across the block: broadcast loads) with the sum in a register. The
//            [D, N, L] powers are never stored. Writes 4·D·L bytes.
//   Backward: mode_grad_kernel, a block per (d, n): threads stride over l accumulating S0 = Σ G·q^l and
//            S1 = Σ G·l·q^(l−1) in registers, one block reduction, then thread 0 applies the per-mode chain
//            rule (ema_mode_backward) and writes the four gradients. Every mode's gradients are its own, so
//            there is no second pass. Reads G once per mode: 4·D·N·L bytes, mostly L2-served.
//   Empty extents (D, N or L of 0) launch nothing: forward writes K = 0, backward zero gradients.
// Version log: v1 direct port of ema_cpu.cpp (thread per output forward, block per mode backward), modelled
// on ops/ssmkernel/ssmkernel.cu. Not yet run on a GPU when written.
#include "engine/cuda.h"
#include "ops/cuda_reduce.cuh"
#include "ops/ema/ema.h"

namespace lra::ops::cuda {

using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

__global__ void modes_kernel(EMAKernelShape s, const float* delta, const float* alpha, const float* beta,
                             const float* gamma, float* modes) {
  int64_t dn = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (dn >= s.D * s.N) return;
  EMAMode<float> m = ema_mode<float>(delta[dn], alpha[dn], beta[dn], gamma[dn], s.N);
  modes[2 * dn + 0] = m.c;
  modes[2 * dn + 1] = m.log_q;
}

__global__ void power_sum_kernel(EMAKernelShape s, const float* modes, float* K) {
  int64_t d = blockIdx.y;
  int64_t l = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (l >= s.L) return;
  const float* row = modes + 2 * d * s.N;
  float acc = 0.f;
  for (int64_t n = 0; n < s.N; ++n) acc += row[2 * n] * ema_power(row[2 * n + 1], l);
  K[d * s.L + l] = acc;
}

__global__ void mode_grad_kernel(EMAKernelShape s, const float* delta, const float* alpha, const float* beta,
                                 const float* gamma, const float* gK, float* g_delta, float* g_alpha, float* g_beta,
                                 float* g_gamma) {
  __shared__ float partials[32];
  int64_t dn = blockIdx.x, d = dn / s.N;
  EMAMode<float> m = ema_mode<float>(delta[dn], alpha[dn], beta[dn], gamma[dn], s.N);
  const float* g = gK + d * s.L;
  float s0 = 0.f, s1 = 0.f;
  for (int64_t l = threadIdx.x; l < s.L; l += blockDim.x) {
    float gl = g[l];
    s0 += gl * ema_power(m.log_q, l);
    if (l > 0) s1 += gl * float(l) * ema_power(m.log_q, l - 1);
  }
  s0 = group_reduce<false>(s0, Sum{}, 0.f, partials);
  s1 = group_reduce<false>(s1, Sum{}, 0.f, partials);
  if (threadIdx.x != 0) return;
  EMAModeGrad<float> gm = ema_mode_backward(m, beta[dn], gamma[dn], s0, s1);
  g_delta[dn] = gm.g_delta;
  g_alpha[dn] = gm.g_alpha;
  g_beta[dn] = gm.g_beta;
  g_gamma[dn] = gm.g_gamma;
}

}  // namespace

void ema_kernel_forward(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                        const float* gamma, float* K, float* scratch) {
  if (s.D * s.N * s.L == 0) {  // no modes or no entries: K = 0 (the glue does the same without calling here)
    if (s.D * s.L > 0) LRA_CUDA_CHECK(cudaMemsetAsync(K, 0, sizeof(float) * size_t(s.D * s.L), stream()));
    return;
  }
  const dim3 mgrid = lra::cuda::grid_dims("modes_kernel", (s.D * s.N + kThreads - 1) / kThreads);
  modes_kernel<<<mgrid, kThreads, 0, stream()>>>(s, delta, alpha, beta, gamma, scratch);
  LRA_KERNEL_CHECK();
  const dim3 grid = lra::cuda::grid_dims("power_sum_kernel", (s.L + kThreads - 1) / kThreads, s.D);
  power_sum_kernel<<<grid, kThreads, 0, stream()>>>(s, scratch, K);
  LRA_KERNEL_CHECK();
}

void ema_kernel_backward(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                         const float* gamma, const float* gK, float* g_delta, float* g_alpha, float* g_beta,
                         float* g_gamma) {
  if (s.D * s.N * s.L == 0) {  // nothing reaches the parameters: zero gradients
    const size_t dn = sizeof(float) * size_t(s.D * s.N);
    if (dn > 0)
      for (float* g : {g_delta, g_alpha, g_beta, g_gamma}) LRA_CUDA_CHECK(cudaMemsetAsync(g, 0, dn, stream()));
    return;
  }
  // A block per mode; 128 threads suit L ≈ 1–16K (8–128 terms per thread).
  mode_grad_kernel<<<lra::cuda::grid_dims("mode_grad_kernel", s.D * s.N), 128, 0, stream()>>>(
      s, delta, alpha, beta, gamma, gK, g_delta, g_alpha, g_beta, g_gamma);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
