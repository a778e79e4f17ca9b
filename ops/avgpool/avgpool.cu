// CUDA sequence average pooling: x, y [outer, L, inner], y[o, l, c] = (1/P) sum_{|r|<=h} x[o, l+r, c]
// with zero padding (see avgpool.h). Backward is the same kernel on the gradient (self-adjoint).
//
// Tiling: L is cut into chunks of kChunk positions; one thread per (o, chunk, c), c fastest, so a warp
// reads 32 consecutive floats of one row at each step (coalesced whenever inner >= 32; dim = -1 with
// inner = 1 still works, uncoalesced). Each thread sums its first window directly (P loads), then
// slides it: one add and one subtract per position. Work O(L + (L / kChunk) * P) per column instead of
// O(L * P); the chunks give outer*inner*L/kChunk threads of parallelism rather than outer*inner.
// The running sum is kept in double, so adding and subtracting along the chunk does not drift (in
// float the error of a sliding sum grows with the number of steps).
// Bytes moved: reads each element about once (plus P per chunk, from cache) and writes it once:
// 8 bytes per element; ~2 FLOPs per element. Saved for backward: nothing.
//
// Version log: v1 chunked sliding-window sum, double accumulator.
#include "engine/cuda.h"
#include "ops/avgpool/avgpool.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int64_t kChunk = 128;

__global__ void avgpool_seq_kernel(const float* x, float* y, int64_t outer, int64_t L, int64_t inner, int P) {
  int64_t chunks = (L + kChunk - 1) / kChunk, n = outer * chunks * inner, h = (P - 1) / 2;
  double inv_p = 1.0 / double(P);
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    int64_t c = k % inner, chunk = (k / inner) % chunks, o = k / (inner * chunks);
    const float* xc = x + o * L * inner + c;  // column (o, :, c), stride inner
    float* yc = y + o * L * inner + c;
    int64_t l0 = chunk * kChunk, l1 = min(l0 + kChunk, L);
    double s = 0;  // window sum at l0
    for (int64_t m = max(l0 - h, int64_t(0)); m <= min(l0 + h, L - 1); ++m) s += xc[m * inner];
    for (int64_t l = l0; l < l1; ++l) {
      yc[l * inner] = float(s * inv_p);
      if (l + h + 1 < L) s += xc[(l + h + 1) * inner];  // slide: position l+h+1 enters
      if (l - h >= 0) s -= xc[(l - h) * inner];         // position l-h leaves
    }
  }
}

}  // namespace

void avgpool_seq(const float* x, float* y, int64_t outer, int64_t L, int64_t inner, int P) {
  int64_t n = outer * ((L + kChunk - 1) / kChunk) * inner;
  if (n == 0) return;
  avgpool_seq_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x, y, outer, L, inner, P);
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
