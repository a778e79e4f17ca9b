// CUDA kernels for the S4D Vandermonde kernel K[h,l] = 2·Re Σ_n w[h,n]·exp(e[h,n]·l) (ssmkernel.h).
//   Forward: (1) modes_kernel, a thread per (h, n), discretises the mode (dt transform, ZOH or bilinear:
//            ssm_mode, shared with the CPU reference) into scratch [H, N, 4] = (e, w);
//            (2) vandermonde_kernel, grid (⌈L/256⌉, H), a thread per (h, l) that loops over the N modes of
//            row h (the same addresses for the whole block: broadcast loads from L1) and keeps the sum in a
//            register. The [H, N, L] powers are never stored. Reads 16·H·N bytes per block, writes 4·H·L.
//   Backward: (1) mode_grad_kernel, a block per (h, n): threads stride over l accumulating
//            S0 = Σ G·conj(E), S1 = Σ G·l·conj(E) in registers, one block reduction of the 4 floats, then
//            thread 0 applies the per-mode chain rule and writes g_log_A_real, g_A_imag, gB, gC and this
//            mode's share of the dt parameter's gradient into scratch [H, N]; (2) dt_sum_kernel, a thread per h, sums the shares over
//            n in order (deterministic). Reads G once per mode: 4·H·N·L bytes, mostly L2-served.
//   Empty extents (H, N or L of 0) launch nothing: forward writes K = 0, backward zero gradients.
//   Saved for backward: nothing but the inputs. FLOPs: ≈ 20·H·N·L (exp, sincos, 4 FMA) each way.
// Version log: v1 direct port of ssmkernel_cpu.cpp (thread per output forward, block per mode backward).
//              v2 (issue 15) the dt transform, the bilinear discretisation and B (nullable) through the
//              shared per-mode functions; the loops over l are unchanged (same cost).
#include "engine/cuda.h"
#include "ops/cuda_reduce.cuh"
#include "ops/ssmkernel/ssmkernel.h"

namespace lra::ops::cuda {

using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

__global__ void modes_kernel(SSMKernelShape s, const float* p_dt, const float* ar, const float* ai, const float* B,
                             const float* C, float* modes) {
  int64_t hn = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (hn >= s.H * s.N) return;
  int64_t h = hn / s.N;
  SSMMode<float> m = ssm_mode<float>(s.opt, p_dt[h], ar[hn], ai[hn], ssm_load_b(B, hn),
                                     SSMComplex<float>{C[2 * hn], C[2 * hn + 1]});
  modes[4 * hn + 0] = m.e.re;
  modes[4 * hn + 1] = m.e.im;
  modes[4 * hn + 2] = m.w.re;
  modes[4 * hn + 3] = m.w.im;
}

__global__ void vandermonde_kernel(SSMKernelShape s, const float* modes, float* K) {
  int64_t h = blockIdx.y;
  int64_t l = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (l >= s.L) return;
  const float* row = modes + 4 * h * s.N;
  float acc = 0.f;
  for (int64_t n = 0; n < s.N; ++n) {
    SSMComplex<float> ex{row[4 * n], row[4 * n + 1]};
    SSMComplex<float> e = ssm_power(ex, float(l));
    acc += row[4 * n + 2] * e.re - row[4 * n + 3] * e.im;
  }
  K[h * s.L + l] = 2.f * acc;
}

__global__ void mode_grad_kernel(SSMKernelShape s, const float* p_dt, const float* ar, const float* ai,
                                 const float* B, const float* C, const float* gK, float* g_ar, float* g_ai,
                                 float* gB, float* gC, float* dt_share) {
  __shared__ float partials[32];
  int64_t hn = blockIdx.x, h = hn / s.N;
  SSMMode<float> m = ssm_mode<float>(s.opt, p_dt[h], ar[hn], ai[hn], ssm_load_b(B, hn),
                                     SSMComplex<float>{C[2 * hn], C[2 * hn + 1]});
  const float* g = gK + h * s.L;
  float s0r = 0.f, s0i = 0.f, s1r = 0.f, s1i = 0.f;
  for (int64_t l = threadIdx.x; l < s.L; l += blockDim.x) {
    SSMComplex<float> e = ssm_power(m.e, float(l));
    float gl = g[l], lf = float(l);
    s0r += gl * e.re;
    s0i -= gl * e.im;
    s1r += gl * lf * e.re;
    s1i -= gl * lf * e.im;
  }
  s0r = group_reduce<false>(s0r, Sum{}, 0.f, partials);
  s0i = group_reduce<false>(s0i, Sum{}, 0.f, partials);
  s1r = group_reduce<false>(s1r, Sum{}, 0.f, partials);
  s1i = group_reduce<false>(s1i, Sum{}, 0.f, partials);
  if (threadIdx.x != 0) return;
  SSMModeGrad<float> gm = ssm_mode_backward(s.opt, m, SSMComplex<float>{s0r, s0i}, SSMComplex<float>{s1r, s1i});
  dt_share[hn] = gm.g_p;
  g_ar[hn] = gm.g_log_a_re;
  g_ai[hn] = gm.g_a_im;
  if (gB) {
    gB[2 * hn] = gm.gB.re;
    gB[2 * hn + 1] = gm.gB.im;
  }
  gC[2 * hn] = gm.gC.re;
  gC[2 * hn + 1] = gm.gC.im;
}

__global__ void dt_sum_kernel(SSMKernelShape s, const float* dt_share, float* g_p_dt) {
  int64_t h = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (h >= s.H) return;
  float acc = 0.f;
  for (int64_t n = 0; n < s.N; ++n) acc += dt_share[h * s.N + n];
  g_p_dt[h] = acc;
}

// A thread per item, kThreads a block.
dim3 blocks(const char* kernel, int64_t n) { return lra::cuda::grid_dims(kernel, (n + kThreads - 1) / kThreads); }

}  // namespace

void ssm_kernel_forward(const SSMKernelShape& s, const float* p_dt, const float* log_A_real, const float* A_imag,
                        const float* B, const float* C, float* K, float* scratch) {
  if (s.H * s.N * s.L == 0) {  // no modes or no entries: K = 0 (the glue does the same without calling here)
    if (s.H * s.L > 0) LRA_CUDA_CHECK(cudaMemsetAsync(K, 0, sizeof(float) * size_t(s.H * s.L), stream()));
    return;
  }
  modes_kernel<<<blocks("modes_kernel", s.H * s.N), kThreads, 0, stream()>>>(s, p_dt, log_A_real, A_imag, B,
                                                                            C, scratch);
  LRA_KERNEL_CHECK();
  const dim3 grid = lra::cuda::grid_dims("vandermonde_kernel", (s.L + kThreads - 1) / kThreads, s.H);
  vandermonde_kernel<<<grid, kThreads, 0, stream()>>>(s, scratch, K);
  LRA_KERNEL_CHECK();
}

void ssm_kernel_backward(const SSMKernelShape& s, const float* p_dt, const float* log_A_real, const float* A_imag,
                         const float* B, const float* C, const float* gK, float* g_p_dt, float* g_log_A_real,
                         float* g_A_imag, float* gB, float* gC, float* scratch) {
  if (s.H * s.N * s.L == 0) {  // nothing reaches the parameters: zero gradients
    const size_t hn = sizeof(float) * size_t(s.H * s.N);
    if (s.H > 0) LRA_CUDA_CHECK(cudaMemsetAsync(g_p_dt, 0, sizeof(float) * size_t(s.H), stream()));
    if (hn > 0) {
      LRA_CUDA_CHECK(cudaMemsetAsync(g_log_A_real, 0, hn, stream()));
      LRA_CUDA_CHECK(cudaMemsetAsync(g_A_imag, 0, hn, stream()));
      LRA_CUDA_CHECK(cudaMemsetAsync(gC, 0, 2 * hn, stream()));
      if (gB) LRA_CUDA_CHECK(cudaMemsetAsync(gB, 0, 2 * hn, stream()));
    }
    return;
  }
  // A block per mode; 128 threads suit L ≈ 1–16K (8–128 terms per thread).
  mode_grad_kernel<<<lra::cuda::grid_dims("mode_grad_kernel", s.H * s.N), 128, 0, stream()>>>(
      s, p_dt, log_A_real, A_imag, B, C, gK, g_log_A_real, g_A_imag, gB, gC, scratch);
  LRA_KERNEL_CHECK();
  dt_sum_kernel<<<blocks("dt_sum_kernel", s.H), kThreads, 0, stream()>>>(s, scratch, g_p_dt);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
