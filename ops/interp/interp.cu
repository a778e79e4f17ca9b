// CUDA linear upsampling by an integer factor f along the last dim (see interp.h for the formula).
//
// Forward: one thread per output element (r, d), d fastest, grid-stride; it computes its two taps with
// the shared interp_taps() and reads them (neighbouring threads read neighbouring inputs: coalesced,
// cached). Backward: one thread per input element (r, j); it gathers the gradient of the outputs whose
// taps include j, which lie in d ∈ [(j − 1)·f, (j + 2)·f): at most 3f reads, no atomics, the same
// summation order on every run. SGConv's sub-kernels are short (f ≤ 2^13, rows of ≤ 64 samples), so the
// window loop is cheap next to the FFT convolution the kernel feeds.
// Saved for backward: nothing.
//
// Version log: v1 thread per output (forward) and per input with a 3f-window gather (backward).
#include "engine/cuda.h"
#include "ops/interp/interp.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

__global__ void upsample_linear_forward_kernel(InterpShape s, const float* x, float* y) {
  const int64_t Lout = s.Lout(), n = s.R * Lout;
  const float scale = float(1.0 / double(s.factor));
  LRA_GRID_STRIDE(k, n) {
    int64_t r = k / Lout, d = k % Lout;
    InterpTaps<float> t = interp_taps<float>(d, s.Lin, scale);
    const float* xr = x + r * s.Lin;
    y[k] = (1.0f - t.lambda) * xr[t.i0] + t.lambda * xr[t.i1];
  }
}

__global__ void upsample_linear_backward_kernel(InterpShape s, const float* gy, float* gx) {
  const int64_t Lout = s.Lout(), n = s.R * s.Lin;
  const float scale = float(1.0 / double(s.factor));
  LRA_GRID_STRIDE(k, n) {
    int64_t r = k / s.Lin, j = k % s.Lin;
    int64_t d0 = (j - 1) * s.factor, d1 = (j + 2) * s.factor;
    if (d0 < 0) d0 = 0;
    if (d1 > Lout) d1 = Lout;
    const float* gr = gy + r * Lout;
    float acc = 0.0f;
    for (int64_t d = d0; d < d1; ++d) {
      InterpTaps<float> t = interp_taps<float>(d, s.Lin, scale);
      if (t.i0 == j) acc += (1.0f - t.lambda) * gr[d];
      if (t.i1 == j) acc += t.lambda * gr[d];
    }
    gx[k] = acc;
  }
}

}  // namespace

void upsample_linear_forward(const InterpShape& s, const float* x, float* y) {
  const int64_t n = s.R * s.Lout();
  if (n == 0) return;
  upsample_linear_forward_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(s, x, y);
  LRA_KERNEL_CHECK();
}

void upsample_linear_backward(const InterpShape& s, const float* gy, float* gx) {
  const int64_t n = s.R * s.Lin;
  if (n == 0) return;
  upsample_linear_backward_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(s, gy, gx);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
