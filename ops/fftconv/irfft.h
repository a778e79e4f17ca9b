// The inverse real DFT of any length n, truncated to its first L samples: S4's k = irfft(k̂, n)[:L]
// (state-spaces/s4 src/models/sequence/kernels/ssm.py 876–880: torch.fft.irfft(k_f, n=discrete_L), then
// [..., :L]), where n is the kernel's attuned length l_max — 2000, 4000 or 16384 in the LRA recipes, so
// not always a power of two.
//
//   x[r, t] = (1/n)·( Re X[r,0] + Σ_{k=1}^{⌈n/2⌉−1} 2·Re(X[r,k]·e^{2πikt/n}) + [n even] Re X[r,n/2]·(−1)^t ),
//   t = 0..L−1.   X [..., n/2 + 1, 2] (complex as interleaved (re, im) pairs), x [..., L], 1 ≤ L ≤ n.
//   The imaginary parts of X[0] and X[n/2] (n even) are ignored, as torch.fft.irfft and a C2R transform do.
//   Rows (the product of the leading dims) may be 0.
// Backward (g = ∂x, complex gradient packed as ∂/∂re + i·∂/∂im): x is real-linear in X, and
//   ∂X[r,k] = (c_k/n)·Σ_{t<L} g[r,t]·e^{−2πikt/n},   c_k = 1 at k = 0 and k = n/2 (n even), else 2;
//   the imaginary part is exactly 0 at k = 0 and k = n/2 (n even) (those inputs are ignored).
//
// Why an inverse DFT and not another way to the taps: the DPLR kernel's taps are defined by the response at
// the n-th roots of unity (C̃ = C(I − Ā^n) makes the length-n generating function exact), so an inverse
// DFT of that length is the definition; a direct O(n·L) sum would cost 2.7e8 operations per channel at
// Path-X. Algorithms:
//   CPU  the direct sum (the readable reference and test oracle), and the FFT path: one complex DFT of
//        length n per row, radix-2 when n is a power of two, otherwise Bluestein's chirp-z (a radix-2
//        convolution of length ≥ 2n − 1): O(n log n) for every n, primes included. Twiddles in double.
//   GPU  cuFFT C2R (backward R2C) of length n, which handles every n (its own Bluestein for large primes).
// Cost: forward and backward one length-n transform per row (≈ 5·n·log2(n) flops; Bluestein ≈ 3 transforms
// of the padded length on the CPU); memory O(rows·n).
#pragma once

#include <cstdint>

#include "engine/tensor.h"

#if defined(__CUDACC__)
#define LRA_IRFFT_HD __host__ __device__ inline
#else
#define LRA_IRFFT_HD inline
#endif

namespace lra::ops {

// x = irfft(X, n)[..., :L]: see above. Differentiable in X.
Tensor irfft(const Tensor& X, int64_t n, int64_t L);

struct IrfftShape {
  int64_t rows = 1, n = 1, L = 1;
  LRA_IRFFT_HD int64_t bins() const { return n / 2 + 1; }
};

namespace cpu {
template <class T>
void irfft_direct_forward(const IrfftShape& s, const T* X, T* x);
template <class T>
void irfft_direct_backward(const IrfftShape& s, const T* gx, T* gX);
template <class T>
void irfft_forward(const IrfftShape& s, const T* X, T* x);
template <class T>
void irfft_backward(const IrfftShape& s, const T* gx, T* gX);
}  // namespace cpu

namespace cuda {
// Floats of scratch (the spectrum copy, the length-n rows and cuFFT's work area); creates and caches the
// plans (host only).
int64_t irfft_forward_scratch(const IrfftShape& s);
int64_t irfft_backward_scratch(const IrfftShape& s);
void irfft_forward(const IrfftShape& s, const float* X, float* x, float* scratch);
void irfft_backward(const IrfftShape& s, const float* gx, float* gX, float* scratch);
}  // namespace cuda

}  // namespace lra::ops
