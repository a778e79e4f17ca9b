// CUDA long convolution (formula and conventions in fftconv.h), float32.
//
// FFT path, n = the smallest even 2^a·3^b·5^c·7^d ≥ L + Lk (circular = linear on [0, L)), P = n + 2:
//   forward   1. pad:      U[r, 0:P] = u[r, 0:L] followed by zeros                 (r < B·H rows)
//             2. kernels:  Kb[c, i] = (kc tap at i + ka tap at i) / n                (C rows)
//             3. cuFFT R2C in place on U (batch B·H) and on Kb (batch C)
//             4. product:  Û[r, f] ·= K̂[h mod C, f] + D[h]/n     (the skip fused as a constant spectrum)
//             5. cuFFT C2R in place on U, 6. unpad: y[r, t] = U[r, t]
//   backward  pad u → U and g → G, R2C both, rebuild K̂; one fused kernel writes G ← Ĝ·conj(K̂ + D/n)
//             (∂u's spectrum) and U ← conj(Û)·Ĝ (the kernel gradient's spectrum per row); C2R on G and
//             unpad → ∂u; the rows of U sharing a kernel row are summed (ops/cuda_sum.cuh, fixed order,
//             scaled by 1/n) into S [C, P], C2R on S, and the taps are read back from their positions;
//             ∂D[h] = Σ_{b,t} u·g by a block per h in the time domain.
// The in-place layout (rows of n + 2 floats = n/2 + 1 complex) means the padded spectra are the only
// [B·H, n]-sized buffers: one forward, two backward. Everything lives in the caller's scratch; the
// cuFFT plans are created once per (n, batch, direction), bound to lra::cuda::stream(), and run with
// auto-allocation off and their work area in that scratch: no cudaMalloc in steady state.
// Tiling: the elementwise kernels are grid-stride, a thread per element; the kernel-gradient sum is
// sum_middle's 32x8 column tiles over the B·H/C rows of each group.
// Cost: forward 2·(B·H + C)·2.5·n·log2(n) flops of FFT, 4·B·H·(L + 3P) bytes beyond cuFFT's own passes.
// Direct path: the CPU loops ported a thread per output (∂k a thread per tap looping over B·H/C·L):
// the naive version the FFT path is checked and timed against.
// Empty extents: B·H == 0 returns before any plan or launch (forward writes nothing, backward zero
// kernel and skip gradients). L >= 1 and C >= 1 always: the glue rejects L = 0 (no tap fits) and C = 0.
// Version log: v1 cuFFT in-place R2C/C2R, fused spectrum product with D, sum_middle reduction of ∂k.
#include <cufft.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "engine/cuda.h"
#include "ops/cuda_reduce.cuh"
#include "ops/cuda_sum.cuh"
#include "ops/fftconv/fftconv.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float2 cmul(float2 a, float2 b) { return {a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x}; }
__device__ __forceinline__ float2 conjf2(float2 a) { return {a.x, -a.y}; }

// ---- cuFFT plans -------------------------------------------------------------------------------

enum class Dir { R2C, C2R };

struct Plan {
  cufftHandle handle = 0;
  size_t work_bytes = 0;
};

// The family's plan cache: one in-place plan per (n, batch, direction). Real rows are n + 2 floats
// apart, complex rows n/2 + 1 complex apart (the same bytes). Plans are never destroyed (see
// engine/device.cpp on handles at exit).
const Plan& plan(int64_t n, int64_t batch, Dir dir) {
  static std::mutex mutex;
  static std::map<std::tuple<int64_t, int64_t, Dir>, Plan> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_tuple(n, batch, dir);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Plan p;
  long long size[1] = {n}, real_embed[1] = {n + 2}, complex_embed[1] = {n / 2 + 1};
  LRA_CUFFT_CHECK(cufftCreate(&p.handle));
  LRA_CUFFT_CHECK(cufftSetAutoAllocation(p.handle, 0));  // the work area comes from the caller's scratch
  if (dir == Dir::R2C)
    LRA_CUFFT_CHECK(cufftMakePlanMany64(p.handle, 1, size, real_embed, 1, n + 2, complex_embed, 1, n / 2 + 1,
                                        CUFFT_R2C, batch, &p.work_bytes));
  else
    LRA_CUFFT_CHECK(cufftMakePlanMany64(p.handle, 1, size, complex_embed, 1, n / 2 + 1, real_embed, 1, n + 2,
                                        CUFFT_C2R, batch, &p.work_bytes));
  LRA_CUFFT_CHECK(cufftSetStream(p.handle, stream()));
  return cache.emplace(key, p).first->second;
}

// In place on rows of n + 2 floats.
void run_plan(int64_t n, int64_t batch, Dir dir, float* data, float* work) {
  const Plan& p = plan(n, batch, dir);
  LRA_CUFFT_CHECK(cufftSetWorkArea(p.handle, work));
  if (dir == Dir::R2C)
    LRA_CUFFT_CHECK(cufftExecR2C(p.handle, data, reinterpret_cast<cufftComplex*>(data)));
  else
    LRA_CUFFT_CHECK(cufftExecC2R(p.handle, reinterpret_cast<cufftComplex*>(data), data));
}

// Floats, rounded up to 64 (256 bytes) so every part of the scratch starts aligned.
int64_t aligned(int64_t floats) { return (floats + 63) / 64 * 64; }
int64_t work_floats(size_t bytes) { return aligned(int64_t((bytes + 3) / 4)); }

// ---- FFT-path kernels --------------------------------------------------------------------------

__global__ void pad_rows_kernel(const float* x, float* buf, int64_t rows, int64_t L, int64_t P) {
  LRA_GRID_STRIDE(i, rows * P) {
    int64_t r = i / P, t = i % P;
    buf[i] = t < L ? x[r * L + t] : 0.0f;
  }
}

__global__ void unpad_rows_kernel(const float* buf, float* y, int64_t rows, int64_t L, int64_t P) {
  LRA_GRID_STRIDE(i, rows * L) y[i] = buf[(i / L) * P + i % L];
}

// Kb[c, i] = (kc[c, i] if i < Lk) + (ka[c, j] if position i holds anti-causal tap j), times scale.
__global__ void build_kernel_buffer_kernel(const float* kc, const float* ka, float* buf, int64_t C, int64_t Lk,
                                           int64_t n, int64_t P, AntiCausal anti, float scale) {
  LRA_GRID_STRIDE(k, C * P) {
    int64_t c = k / P, i = k % P;
    float v = i < Lk ? kc[c * Lk + i] : 0.0f;
    int64_t j = anti_tap(i, n, Lk, anti);
    if (j >= 0) v += ka[c * Lk + j];
    buf[k] = v * scale;
  }
}

// Û[r, f] ·= K̂[c, f] + D[h]/n with h = r mod H, c = h mod C; F = n/2 + 1 complex per row.
__global__ void forward_product_kernel(float2* U, const float2* K, const float* D, int64_t rows, int64_t H,
                                       int64_t C, int64_t F, float inv_n) {
  LRA_GRID_STRIDE(i, rows * F) {
    int64_t h = (i / F) % H, f = i % F;
    float2 k = K[(h % C) * F + f];
    if (D) k.x += D[h] * inv_n;
    U[i] = cmul(U[i], k);
  }
}

// G ← Ĝ·conj(K̂ + D/n) (∂u), U ← conj(Û)·Ĝ (per-row kernel gradient spectrum).
__global__ void backward_product_kernel(float2* U, float2* G, const float2* K, const float* D, int64_t rows,
                                        int64_t H, int64_t C, int64_t F, float inv_n) {
  LRA_GRID_STRIDE(i, rows * F) {
    int64_t h = (i / F) % H, f = i % F;
    float2 k = K[(h % C) * F + f];
    if (D) k.x += D[h] * inv_n;
    float2 g = G[i], u = U[i];
    G[i] = cmul(g, conjf2(k));
    U[i] = cmul(conjf2(u), g);
  }
}

// The taps' gradients, read from their positions in the kernel-gradient buffer S [C, P].
__global__ void extract_kernel_grads_kernel(const float* S, float* gkc, float* gka, int64_t C, int64_t Lk, int64_t n,
                                            int64_t P, AntiCausal anti) {
  LRA_GRID_STRIDE(k, C * Lk) {
    int64_t c = k / Lk, j = k % Lk;
    if (gkc) gkc[k] = S[c * P + j];
    if (gka) gka[k] = S[c * P + anti_position(j, n, anti)];
  }
}

// gD[h] = Σ_b Σ_t u[b,h,t]·g[b,h,t]: a block per h, threads over t, one fixed-order block reduction.
__global__ void channel_dot_kernel(const float* u, const float* g, float* gD, int64_t B, int64_t H, int64_t L) {
  __shared__ float partials[32];
  const int64_t h = blockIdx.x;
  float acc = 0.0f;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t row = (b * H + h) * L;
    for (int64_t t = threadIdx.x; t < L; t += blockDim.x) acc += u[row + t] * g[row + t];
  }
  acc = group_reduce<false>(acc, Sum{}, 0.0f, partials);
  if (threadIdx.x == 0) gD[h] = acc;
}

void channel_dot(const FFTConvShape& s, const float* u, const float* g, float* gD) {
  channel_dot_kernel<<<lra::cuda::grid_dims("channel_dot_kernel", s.H), kThreads, 0, stream()>>>(u, g, gD, s.B, s.H,
                                                                                                 s.L);
  LRA_KERNEL_CHECK();
}

// Backward with no rows (B·H == 0): ∂u is empty and every other gradient is a sum over nothing.
void zero_parameter_grads(const FFTConvShape& s, float* gkc, float* gka, float* gD) {
  const size_t taps = sizeof(float) * size_t(s.C * s.Lk);
  if (gkc && taps) LRA_CUDA_CHECK(cudaMemsetAsync(gkc, 0, taps, stream()));
  if (gka && taps && s.anti != AntiCausal::None) LRA_CUDA_CHECK(cudaMemsetAsync(gka, 0, taps, stream()));
  if (gD && s.H) LRA_CUDA_CHECK(cudaMemsetAsync(gD, 0, sizeof(float) * size_t(s.H), stream()));
}

void pad_rows(const float* x, float* buf, int64_t rows, int64_t L, int64_t P) {
  pad_rows_kernel<<<blocks_for(rows * P, kThreads), kThreads, 0, stream()>>>(x, buf, rows, L, P);
  LRA_KERNEL_CHECK();
}

void unpad_rows(const float* buf, float* y, int64_t rows, int64_t L, int64_t P) {
  unpad_rows_kernel<<<blocks_for(rows * L, kThreads), kThreads, 0, stream()>>>(buf, y, rows, L, P);
  LRA_KERNEL_CHECK();
}

// Kb ← the scaled kernel buffer, then its spectrum in place.
void kernel_spectrum(const FFTConvShape& s, int64_t n, const float* kc, const float* ka, float* Kb, float* work) {
  const int64_t P = n + 2;
  build_kernel_buffer_kernel<<<blocks_for(s.C * P, kThreads), kThreads, 0, stream()>>>(
      kc, ka, Kb, s.C, s.Lk, n, P, s.anti, 1.0f / float(n));
  LRA_KERNEL_CHECK();
  run_plan(n, s.C, Dir::R2C, Kb, work);
}

// ---- direct-path kernels (the naive port of fftconv_cpu.cpp) ---------------------------------------

__global__ void direct_forward_kernel(FFTConvShape s, const float* u, const float* kc, const float* ka,
                                      const float* D, float* y) {
  const int64_t sh = s.anti == AntiCausal::FromLag1 ? 1 : 0;
  LRA_GRID_STRIDE(i, s.B * s.H * s.L) {
    int64_t r = i / s.L, t = i % s.L, h = r % s.H, c = h % s.C;
    const float* ur = u + r * s.L;
    float acc = D ? D[h] * ur[t] : 0.0f;
    for (int64_t j = 0; j < s.Lk && j <= t; ++j) acc += kc[c * s.Lk + j] * ur[t - j];
    if (ka)
      for (int64_t j = 0; j < s.Lk && t + sh + j < s.L; ++j) acc += ka[c * s.Lk + j] * ur[t + sh + j];
    y[i] = acc;
  }
}

__global__ void direct_grad_u_kernel(FFTConvShape s, const float* kc, const float* ka, const float* D,
                                     const float* gy, float* gu) {
  const int64_t sh = s.anti == AntiCausal::FromLag1 ? 1 : 0;
  LRA_GRID_STRIDE(i, s.B * s.H * s.L) {
    int64_t r = i / s.L, x = i % s.L, h = r % s.H, c = h % s.C;
    const float* gr = gy + r * s.L;
    float acc = D ? D[h] * gr[x] : 0.0f;
    for (int64_t j = 0; j < s.Lk && x + j < s.L; ++j) acc += kc[c * s.Lk + j] * gr[x + j];
    if (ka)
      for (int64_t j = 0; j < s.Lk && x - sh - j >= 0; ++j) acc += ka[c * s.Lk + j] * gr[x - sh - j];
    gu[i] = acc;
  }
}

// A thread per tap (c, j): loops over the B·H/C rows of group c (row r = q·C + c) and over t.
__global__ void direct_grad_k_kernel(FFTConvShape s, const float* u, const float* gy, float* gkc, float* gka) {
  const int64_t sh = s.anti == AntiCausal::FromLag1 ? 1 : 0, Q = s.B * s.H / s.C;
  LRA_GRID_STRIDE(k, s.C * s.Lk) {
    int64_t c = k / s.Lk, j = k % s.Lk;
    float ac = 0.0f, aa = 0.0f;
    for (int64_t q = 0; q < Q; ++q) {
      const float* ur = u + (q * s.C + c) * s.L;
      const float* gr = gy + (q * s.C + c) * s.L;
      for (int64_t t = j; t < s.L; ++t) ac += gr[t] * ur[t - j];
      if (gka)
        for (int64_t t = 0; t + sh + j < s.L; ++t) aa += gr[t] * ur[t + sh + j];
    }
    if (gkc) gkc[k] = ac;
    if (gka) gka[k] = aa;
  }
}

}  // namespace

// ---- entry points ------------------------------------------------------------------------------

int64_t fftconv_forward_scratch(const FFTConvShape& s) {
  const int64_t n = fft_size(s.L, s.Lk), P = n + 2, rows = s.B * s.H;
  if (rows == 0) return 0;
  size_t work = std::max({plan(n, rows, Dir::R2C).work_bytes, plan(n, s.C, Dir::R2C).work_bytes,
                          plan(n, rows, Dir::C2R).work_bytes});
  return aligned(rows * P) + aligned(s.C * P) + work_floats(work);
}

int64_t fftconv_backward_scratch(const FFTConvShape& s) {
  const int64_t n = fft_size(s.L, s.Lk), P = n + 2, rows = s.B * s.H;
  if (rows == 0) return 0;
  size_t work = std::max({plan(n, rows, Dir::R2C).work_bytes, plan(n, s.C, Dir::R2C).work_bytes,
                          plan(n, rows, Dir::C2R).work_bytes, plan(n, s.C, Dir::C2R).work_bytes});
  return 2 * aligned(rows * P) + 2 * aligned(s.C * P) + aligned(sum_middle_scratch_size(1, rows / s.C, s.C * P)) +
         work_floats(work);
}

void fftconv_fft_forward(const FFTConvShape& s, const float* u, const float* kc, const float* ka, const float* D,
                         float* y, float* scratch) {
  const int64_t n = fft_size(s.L, s.Lk), P = n + 2, F = n / 2 + 1, rows = s.B * s.H;
  if (rows == 0) return;
  float* U = scratch;
  float* Kb = U + aligned(rows * P);
  float* work = Kb + aligned(s.C * P);
  pad_rows(u, U, rows, s.L, P);
  run_plan(n, rows, Dir::R2C, U, work);
  kernel_spectrum(s, n, kc, ka, Kb, work);
  forward_product_kernel<<<blocks_for(rows * F, kThreads), kThreads, 0, stream()>>>(
      reinterpret_cast<float2*>(U), reinterpret_cast<const float2*>(Kb), D, rows, s.H, s.C, F, 1.0f / float(n));
  LRA_KERNEL_CHECK();
  run_plan(n, rows, Dir::C2R, U, work);
  unpad_rows(U, y, rows, s.L, P);
}

void fftconv_fft_backward(const FFTConvShape& s, const float* u, const float* kc, const float* ka, const float* D,
                          const float* gy, float* gu, float* gkc, float* gka, float* gD, float* scratch) {
  const int64_t n = fft_size(s.L, s.Lk), P = n + 2, F = n / 2 + 1, rows = s.B * s.H;
  if (rows == 0) return zero_parameter_grads(s, gkc, gka, gD);
  float* U = scratch;
  float* G = U + aligned(rows * P);
  float* Kb = G + aligned(rows * P);
  float* S = Kb + aligned(s.C * P);
  float* sum_scratch = S + aligned(s.C * P);
  float* work = sum_scratch + aligned(sum_middle_scratch_size(1, rows / s.C, s.C * P));
  pad_rows(u, U, rows, s.L, P);
  pad_rows(gy, G, rows, s.L, P);
  run_plan(n, rows, Dir::R2C, U, work);
  run_plan(n, rows, Dir::R2C, G, work);
  kernel_spectrum(s, n, kc, ka, Kb, work);
  backward_product_kernel<<<blocks_for(rows * F, kThreads), kThreads, 0, stream()>>>(
      reinterpret_cast<float2*>(U), reinterpret_cast<float2*>(G), reinterpret_cast<const float2*>(Kb), D, rows,
      s.H, s.C, F, 1.0f / float(n));
  LRA_KERNEL_CHECK();
  if (gu) {
    run_plan(n, rows, Dir::C2R, G, work);
    unpad_rows(G, gu, rows, s.L, P);
  }
  if (gkc || gka) {
    // Row r = q·C + c, so U viewed as [Q, C·P] sums over Q into S [C, P] (complex parts sum as floats).
    SumMiddleParams p;
    p.x = U;
    p.y = S;
    p.outer = 1;
    p.n = rows / s.C;
    p.inner = s.C * P;
    p.scale = 1.0f / float(n);
    sum_middle(p, sum_scratch);
    run_plan(n, s.C, Dir::C2R, S, work);
    extract_kernel_grads_kernel<<<blocks_for(s.C * s.Lk, kThreads), kThreads, 0, stream()>>>(
        S, gkc, s.anti == AntiCausal::None ? nullptr : gka, s.C, s.Lk, n, P, s.anti);
    LRA_KERNEL_CHECK();
  }
  if (gD) channel_dot(s, u, gy, gD);
}

void fftconv_direct_forward(const FFTConvShape& s, const float* u, const float* kc, const float* ka, const float* D,
                            float* y) {
  const int64_t total = s.B * s.H * s.L;
  if (total == 0) return;
  direct_forward_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(
      s, u, kc, s.anti == AntiCausal::None ? nullptr : ka, D, y);
  LRA_KERNEL_CHECK();
}

void fftconv_direct_backward(const FFTConvShape& s, const float* u, const float* kc, const float* ka,
                             const float* D, const float* gy, float* gu, float* gkc, float* gka, float* gD) {
  const int64_t total = s.B * s.H * s.L;
  const bool anti = s.anti != AntiCausal::None;
  if (total == 0) return zero_parameter_grads(s, gkc, gka, gD);
  if (gu) {
    direct_grad_u_kernel<<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(s, kc, anti ? ka : nullptr, D, gy,
                                                                                 gu);
    LRA_KERNEL_CHECK();
  }
  if (gkc || (gka && anti)) {
    direct_grad_k_kernel<<<blocks_for(s.C * s.Lk, kThreads), kThreads, 0, stream()>>>(s, u, gy, gkc,
                                                                                       anti ? gka : nullptr);
    LRA_KERNEL_CHECK();
  }
  if (gD) channel_dot(s, u, gy, gD);
}

}  // namespace lra::ops::cuda
