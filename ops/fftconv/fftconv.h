// The long convolution behind S4/S4D, SGConv, MEGA's EMA, gMLP's spatial convolution and the free-kernel
// residual conv model: a depthwise convolution along L with a causal kernel, an optional anti-causal
// kernel and a skip.
//
//   y[b,h,t] = Σ_{j<Lk} kc[c,j]·u[b,h,t−j]  +  Σ_{j<Lk} ka[c,j]·u[b,h,t+s+j]  +  D[h]·u[b,h,t],   c = h mod C
//
//   u [B, H, L]; kc, ka [C, Lk] with C dividing H and 1 ≤ Lk ≤ L; D [H]; y [B, H, L]. Samples outside
//   [0, L) are zero. The anti-causal shift s is the convention (both are in the literature):
//     AntiCausal::None      no ka (pass an undefined tensor);
//     AntiCausal::FromLag1  s = 1: ka[c,0] multiplies u[t+1] (S4, S4D, SGConv: lag 0 belongs to kc only);
//     AntiCausal::FromLag0  s = 0: ka[c,0] multiplies u[t] too, so lag 0 gets kc[c,0] + ka[c,0] (MEGA).
//   Channel h uses kernel row h mod C (gMLP's shared kernels): C = H is one kernel per channel, C = 1
//   one kernel for all.
//   Empty extents: B or H may be 0 (y is empty, and ∂kc, ∂ka, ∂D are zeros: sums over no rows); L = 0
//   is an error, since no kernel of 1 ≤ Lk ≤ L taps exists for it.
//
// Algorithms (the same result, up to rounding):
//   Direct  O(B·H·L·Lk) loops: the CPU reference and test oracle; a naive CUDA port sits beside it.
//   FFT     circular convolution of length n ≥ L + Lk, which equals the linear one on [0, L): the
//           kernels go into one length-n buffer kk (causal tap j at position j, anti-causal tap j at
//           anti_position(j, n)), and y = irfft(rfft(u, n) ⊙ (rfft(kk, n) + D)). On the CPU a radix-2
//           complex FFT (n a power of two); on the GPU cuFFT R2C/C2R (n the smallest even 2^a3^b5^c7^d).
//   Auto: the GPU always uses the FFT; the CPU uses Direct while the taps per output are few,
//   sides·Lk ≤ 16·log2(n) (an FFT path costs ~3 transforms, ≈ 15·log2(n) flops per output), else FFT.
//
// Backward (g = ∂y):  ∂u[s] = Σ_t g[t]·(taps at lag t−s) + D·g[s]     (a correlation: conj(K̂)·Ĝ)
//                     ∂kc[c,j] = Σ_{b, h≡c} Σ_t g[b,h,t]·u[b,h,t−j]   (irfft of Σ conj(Û)·Ĝ, summed over
//                     ∂ka[c,j] = Σ_{b, h≡c} Σ_t g[b,h,t]·u[b,h,t+s+j]  the batch and the channel group)
//                     ∂D[h]    = Σ_{b,t} g[b,h,t]·u[b,h,t]
// All reductions run in a fixed order: deterministic on both devices.
// Saved for backward: u, kc, ka, D (the FFTs of u and of the kernels are recomputed, not kept).
// Cost (GPU FFT path, float32): forward 2 transforms of B·H rows of n plus C kernel rows, and reads
// 4·B·H·L, writes 4·B·H·L bytes at the edges; backward 3 transforms of B·H rows. Scratch holds the
// padded spectra in place ([B·H, n+2] floats forward, twice that backward) and cuFFT's work area.
// Precision: float32 FFT error grows like ε·log2(n)·‖u‖·‖k‖; the CUDA tests state rtol/atol accordingly.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

#if defined(__CUDACC__)
#define LRA_FFTCONV_HD __host__ __device__ inline
#else
#define LRA_FFTCONV_HD inline
#endif

namespace lra::ops {

enum class AntiCausal { None, FromLag1, FromLag0 };

struct FFTConvOptions {
  AntiCausal anti = AntiCausal::None;
  enum class Algo { Auto, Direct, FFT };
  Algo algo = Algo::Auto;  // Direct / FFT force a path on either device (tests, benchmarks)
};

// y = fftconv(u, kc, ka, D): see the formula above. ka must be defined exactly when opts.anti != None;
// D may be undefined (no skip). Differentiable in u, kc, ka and D.
Tensor fftconv(const Tensor& u, const Tensor& kc, const Tensor& ka, const Tensor& D, FFTConvOptions opts = {});

// The geometry every raw entry point takes.
struct FFTConvShape {
  int64_t B = 1, H = 1, L = 1;  // u, y [B, H, L]
  int64_t C = 1, Lk = 1;        // kc, ka [C, Lk]
  AntiCausal anti = AntiCausal::None;
  int64_t sides() const { return anti == AntiCausal::None ? 1 : 2; }
};

// Where anti-causal tap j (lag −(s+j)) sits in the length-n circular kernel buffer, and the inverse
// (the tap stored at position i, or −1). FromLag0's tap 0 shares position 0 with kc's tap 0.
LRA_FFTCONV_HD int64_t anti_position(int64_t j, int64_t n, AntiCausal anti) {
  return anti == AntiCausal::FromLag1 ? n - 1 - j : (n - j) % n;
}
LRA_FFTCONV_HD int64_t anti_tap(int64_t i, int64_t n, int64_t Lk, AntiCausal anti) {
  if (anti == AntiCausal::None || i >= n) return -1;
  int64_t j = anti == AntiCausal::FromLag1 ? n - 1 - i : (n - i) % n;
  return j >= 0 && j < Lk ? j : -1;
}

// ka, gka may be nullptr when anti == None; D, gD may be nullptr (no skip). Backward writes every gradient
// it is given a pointer for (fresh, not accumulated).
namespace cpu {
// O(L·Lk) loops per row.
template <class T>
void fftconv_direct_forward(const FFTConvShape& s, const T* u, const T* kc, const T* ka, const T* D, T* y);
template <class T>
void fftconv_direct_backward(const FFTConvShape& s, const T* u, const T* kc, const T* ka, const T* D, const T* gy,
                             T* gu, T* gkc, T* gka, T* gD);
// Radix-2 FFT path, n = the smallest power of two ≥ L + Lk.
template <class T>
void fftconv_fft_forward(const FFTConvShape& s, const T* u, const T* kc, const T* ka, const T* D, T* y);
template <class T>
void fftconv_fft_backward(const FFTConvShape& s, const T* u, const T* kc, const T* ka, const T* D, const T* gy,
                          T* gu, T* gkc, T* gka, T* gD);
// The float32 path training runs (fftconv_cpu_fast.cpp): the same radix-2 sums, 16 channels per vector
// lane block; results agree with the reference to float32 rounding and do not depend on the thread count.
void fftconv_fft_forward_fast(const FFTConvShape& s, const float* u, const float* kc, const float* ka,
                              const float* D, float* y);
void fftconv_fft_backward_fast(const FFTConvShape& s, const float* u, const float* kc, const float* ka,
                               const float* D, const float* gy, float* gu, float* gkc, float* gka, float* gD);
int64_t fft_size(int64_t L, int64_t Lk);
// Whether Algo::Auto takes the direct loops for this shape.
bool prefers_direct(const FFTConvShape& s);
}  // namespace cpu

namespace cuda {
// n for cuFFT: the smallest even 2^a·3^b·5^c·7^d ≥ L + Lk (host code, defined in every build).
int64_t fft_size(int64_t L, int64_t Lk);
// Floats of scratch the FFT paths need (padded spectra + cuFFT work area). Creates and caches the
// cuFFT plans for this shape (host only, no GPU work).
int64_t fftconv_forward_scratch(const FFTConvShape& s);
int64_t fftconv_backward_scratch(const FFTConvShape& s);
void fftconv_fft_forward(const FFTConvShape& s, const float* u, const float* kc, const float* ka, const float* D,
                         float* y, float* scratch);
void fftconv_fft_backward(const FFTConvShape& s, const float* u, const float* kc, const float* ka, const float* D,
                          const float* gy, float* gu, float* gkc, float* gka, float* gD, float* scratch);
// The naive port of the CPU loops (a thread per output element), kept to check and time the FFT path.
void fftconv_direct_forward(const FFTConvShape& s, const float* u, const float* kc, const float* ka, const float* D,
                            float* y);
void fftconv_direct_backward(const FFTConvShape& s, const float* u, const float* kc, const float* ka,
                             const float* D, const float* gy, float* gu, float* gkc, float* gka, float* gD);
}  // namespace cuda

}  // namespace lra::ops
