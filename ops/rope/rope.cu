// CUDA rotary embedding: rotates consecutive channel pairs of x [rows, L, D] (and of a second tensor
// u [rows_u, L, D], so Q and K go in one launch) by the angle in the cos/sin tables [L, D/2].
//
// Tiling: one thread per pair (2 elements), grid-stride over the pairs of x followed by the pairs of
// u. Consecutive threads take consecutive pairs, so a warp reads 256 contiguous bytes of x and 128 of
// each table row. The table is built once per (L, D, base, disable_half) by rope_table_kernel in
// double (pow, sincos) and rounded to float, so it matches the CPU table to float rounding.
// Bytes moved: reads and writes 4 bytes per element plus the tables (L*D*4 bytes, reused by every row
// and so mostly served from L2); ~6 FLOPs per pair. Saved for backward: nothing (the table is cached).
//
// Version log: v1 one thread per pair, scalar loads (the direct port of rope_cpu.cpp).
#include "engine/cuda.h"
#include "ops/rope/rope.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

__global__ void rope_table_kernel(float* cos_t, float* sin_t, int64_t L, int64_t D, double base, bool disable_half) {
  int64_t half = D / 2, n = L * half;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n; k += int64_t(gridDim.x) * blockDim.x) {
    int64_t p = k / half, i = k % half;
    double theta = (disable_half && i % 2 == 0) ? 0.0 : pow(base, -2.0 * double(i) / double(D));
    double s, c;
    sincos(double(p) * theta, &s, &c);
    cos_t[k] = float(c);
    sin_t[k] = float(s);
  }
}

// Pairs [0, pairs_x) belong to x -> y, pairs [pairs_x, pairs_x + pairs_u) to u -> v. Each pair k of a
// tensor sits at element 2k, at position p = (k / half) % L and plane i = k % half.
__global__ void rope_apply_kernel(const float* x, float* y, int64_t pairs_x, const float* u, float* v,
                                  int64_t pairs_u, const float* cos_t, const float* sin_t, int64_t L, int64_t half,
                                  float sign) {
  int64_t total = pairs_x + pairs_u;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const float* src = x;
    float* dst = y;
    int64_t j = k;
    if (k >= pairs_x) {
      src = u;
      dst = v;
      j = k - pairs_x;
    }
    int64_t t = j % (L * half);  // p * half + i: the table entry
    float c = cos_t[t], s = sign * sin_t[t];
    float x0 = src[2 * j], x1 = src[2 * j + 1];
    dst[2 * j] = x0 * c - x1 * s;
    dst[2 * j + 1] = x0 * s + x1 * c;
  }
}

}  // namespace

void rope_table(float* cos_t, float* sin_t, int64_t L, int64_t D, double base, bool disable_half) {
  int64_t n = L * (D / 2);
  if (n == 0) return;
  rope_table_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(cos_t, sin_t, L, D, base, disable_half);
  LRA_KERNEL_CHECK();
}

void rope_apply(const float* x, float* y, int64_t rows_x, const float* u, float* v, int64_t rows_u,
                const float* cos_t, const float* sin_t, int64_t L, int64_t D, int sign) {
  int64_t half = D / 2;
  int64_t pairs_x = rows_x * L * half, pairs_u = rows_u > 0 ? rows_u * L * half : 0;
  if (pairs_x + pairs_u == 0) return;
  rope_apply_kernel<<<blocks_for(pairs_x + pairs_u, 256), 256, 0, stream()>>>(x, y, pairs_x, u, v, pairs_u, cos_t,
                                                                               sin_t, L, half, float(sign));
  LRA_KERNEL_CHECK();
}

}  // namespace lra::ops::cuda
