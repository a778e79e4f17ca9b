// CUDA inverse real DFT of any length n (irfft.h), float32, with cuFFT.
//   forward   1. spectrum:  S[r, k] = X[r, k], imaginary parts of bins 0 and n/2 (n even) zeroed (a C2R
//                           transform's result with a non-Hermitian input is unspecified; irfft ignores them)
//             2. cuFFT C2R out of place, S [rows, n/2+1] complex → R [rows, n] (C2R may overwrite S: S is ours)
//             3. unpad:     x[r, t] = R[r, t] / n for t < L
//   backward  1. pad:       R[r, t] = g[r, t] for t < L, else 0
//             2. cuFFT R2C out of place, R → S
//             3. weights:   ∂X[r, k] = S[r, k]·c_k/n, imaginary part 0 at bins 0 and n/2 (n even)
//   n = 1 is the identity on the real part (no transform is planned for it).
// cuFFT plans are created once per (n, rows, direction), bound to lra::cuda::stream(), with auto-allocation
// off and their work area in the caller's scratch (the same discipline as fftconv.cu, whose plan cache is
// private to its file). Elementwise kernels are grid-stride, a thread per element.
// Cost: one length-n transform per row each way, plus 3 passes of 8·rows·n bytes.
// Version log: v1 cuFFT C2R/R2C out of place.
#include <cufft.h>

#include <map>
#include <mutex>
#include <tuple>

#include "engine/cuda.h"
#include "ops/fftconv/irfft.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

enum class Dir { R2C, C2R };

struct Plan {
  cufftHandle handle = 0;
  size_t work_bytes = 0;
};

const Plan& plan(int64_t n, int64_t rows, Dir dir) {
  static std::mutex mutex;
  static std::map<std::tuple<int64_t, int64_t, Dir>, Plan> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_tuple(n, rows, dir);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Plan p;
  long long size[1] = {n}, real_embed[1] = {n}, complex_embed[1] = {n / 2 + 1};
  LRA_CUFFT_CHECK(cufftCreate(&p.handle));
  LRA_CUFFT_CHECK(cufftSetAutoAllocation(p.handle, 0));
  if (dir == Dir::R2C)
    LRA_CUFFT_CHECK(cufftMakePlanMany64(p.handle, 1, size, real_embed, 1, n, complex_embed, 1, n / 2 + 1,
                                        CUFFT_R2C, rows, &p.work_bytes));
  else
    LRA_CUFFT_CHECK(cufftMakePlanMany64(p.handle, 1, size, complex_embed, 1, n / 2 + 1, real_embed, 1, n,
                                        CUFFT_C2R, rows, &p.work_bytes));
  LRA_CUFFT_CHECK(cufftSetStream(p.handle, stream()));
  return cache.emplace(key, p).first->second;
}

int64_t aligned(int64_t floats) { return (floats + 63) / 64 * 64; }
int64_t spectrum_floats(const IrfftShape& s) { return aligned(s.rows * s.bins() * 2); }
int64_t real_floats(const IrfftShape& s) { return aligned(s.rows * s.n); }
int64_t scratch_floats(const IrfftShape& s, Dir dir) {
  if (s.rows == 0) return 0;
  if (s.n == 1) return 0;
  return spectrum_floats(s) + real_floats(s) + aligned(int64_t((plan(s.n, s.rows, dir).work_bytes + 3) / 4));
}

__global__ void spectrum_kernel(IrfftShape s, const float* X, float* S) {
  const int64_t K = s.bins();
  LRA_GRID_STRIDE(i, s.rows * K) {
    const int64_t k = i % K;
    const bool real_bin = k == 0 || 2 * k == s.n;
    S[2 * i] = X[2 * i];
    S[2 * i + 1] = real_bin ? 0.f : X[2 * i + 1];
  }
}

__global__ void unpad_kernel(IrfftShape s, const float* R, float* x) {
  const float scale = 1.f / float(s.n);
  LRA_GRID_STRIDE(i, s.rows * s.L) {
    const int64_t r = i / s.L, t = i % s.L;
    x[i] = R[r * s.n + t] * scale;
  }
}

__global__ void pad_kernel(IrfftShape s, const float* g, float* R) {
  LRA_GRID_STRIDE(i, s.rows * s.n) {
    const int64_t r = i / s.n, t = i % s.n;
    R[i] = t < s.L ? g[r * s.L + t] : 0.f;
  }
}

__global__ void weights_kernel(IrfftShape s, const float* S, float* gX) {
  const int64_t K = s.bins();
  LRA_GRID_STRIDE(i, s.rows * K) {
    const int64_t k = i % K;
    const bool real_bin = k == 0 || 2 * k == s.n;
    const float w = (real_bin ? 1.f : 2.f) / float(s.n);
    gX[2 * i] = S[2 * i] * w;
    gX[2 * i + 1] = real_bin ? 0.f : S[2 * i + 1] * w;
  }
}

// n = 1: x = Re X, ∂X = (g, 0).
__global__ void identity_forward_kernel(IrfftShape s, const float* X, float* x) {
  LRA_GRID_STRIDE(r, s.rows) x[r] = X[2 * r];
}
__global__ void identity_backward_kernel(IrfftShape s, const float* g, float* gX) {
  LRA_GRID_STRIDE(r, s.rows) {
    gX[2 * r] = g[r];
    gX[2 * r + 1] = 0.f;
  }
}

}  // namespace

int64_t irfft_forward_scratch(const IrfftShape& s) { return scratch_floats(s, Dir::C2R); }
int64_t irfft_backward_scratch(const IrfftShape& s) { return scratch_floats(s, Dir::R2C); }

void irfft_forward(const IrfftShape& s, const float* X, float* x, float* scratch) {
  if (s.rows == 0) return;
  if (s.n == 1) {
    identity_forward_kernel<<<blocks_for(s.rows, kThreads), kThreads, 0, stream()>>>(s, X, x);
    LRA_KERNEL_CHECK();
    return;
  }
  float* S = scratch;
  float* R = S + spectrum_floats(s);
  float* work = R + real_floats(s);
  spectrum_kernel<<<blocks_for(s.rows * s.bins(), kThreads), kThreads, 0, stream()>>>(s, X, S);
  LRA_KERNEL_CHECK();
  const Plan& p = plan(s.n, s.rows, Dir::C2R);
  LRA_CUFFT_CHECK(cufftSetWorkArea(p.handle, work));
  LRA_CUFFT_CHECK(cufftExecC2R(p.handle, reinterpret_cast<cufftComplex*>(S), R));
  unpad_kernel<<<blocks_for(s.rows * s.L, kThreads), kThreads, 0, stream()>>>(s, R, x);
  LRA_KERNEL_CHECK();
}

void irfft_backward(const IrfftShape& s, const float* gx, float* gX, float* scratch) {
  if (s.rows == 0) return;
  if (s.n == 1) {
    identity_backward_kernel<<<blocks_for(s.rows, kThreads), kThreads, 0, stream()>>>(s, gx, gX);
    LRA_KERNEL_CHECK();
    return;
  }
  float* S = scratch;
  float* R = S + spectrum_floats(s);
  float* work = R + real_floats(s);
  pad_kernel<<<blocks_for(s.rows * s.n, kThreads), kThreads, 0, stream()>>>(s, gx, R);
  LRA_KERNEL_CHECK();
  const Plan& p = plan(s.n, s.rows, Dir::R2C);
  LRA_CUFFT_CHECK(cufftSetWorkArea(p.handle, work));
  LRA_CUFFT_CHECK(cufftExecR2C(p.handle, R, reinterpret_cast<cufftComplex*>(S)));
  weights_kernel<<<blocks_for(s.rows * s.bins(), kThreads), kThreads, 0, stream()>>>(s, S, gX);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
