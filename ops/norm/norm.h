// Layer norm and RMS norm over the last dim.
//
//   layer_norm: y[r, j] = (x[r, j] - mean_r) * rstd_r * w[j] + b[j],  rstd_r = 1 / sqrt(var_r + eps)
//   rms_norm:   y[r, j] = x[r, j] * rstd_r * w[j],                    rstd_r = 1 / sqrt(mean_j x[r, j]^2 + eps)
//
// x has any rank >= 1, viewed as [rows, D] with D = x.dim(-1). weight and bias are [D]; either may be
// undefined (Tensor()): no scale (w = 1) / no shift (b = 0). var is the biased variance (divide by D).
// D = 1 is fine: layer_norm gives y = b (x - mean is exactly 0), never NaN.
// Empty extents: 0 rows give an empty y and dw = db = 0 (sums over no rows); D = 0 gives an empty y,
// dx, dw and db (no statistics are computed, so nothing divides by D).
//
// Backward (xhat = (x - mean) * rstd, mean = 0 for rms_norm; g = gy * w):
//   layer_norm: dx = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat))
//   rms_norm:   dx = rstd * (g - xhat * mean_j(g * xhat))
//   dw[j] = sum_r gy[r, j] * xhat[r, j],  db[j] = sum_r gy[r, j]
// Saved for backward: x, w, and mean and rstd per row ([rows] each; mean unused by rms_norm).
// Bytes moved (float32): forward reads x (twice from cache) and writes y: ~8 bytes/element; backward
// reads x and gy twice (dx pass and the dw/db column pass) and writes dx: ~20 bytes/element.
// FLOPs: ~8 per element forward, ~12 backward.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps = 1e-6);

// Raw entry points: x, y, gy, dx are [rows, D]; w, b, dw, db are [D] and may be nullptr (no scale,
// no shift, gradient not wanted); mean and rstd are [rows]. rms = true skips the mean (writes 0).
namespace cpu {
template <class T>
void norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows, int64_t D, T eps,
                  bool rms);
template <class T>
void norm_backward(const T* x, const T* w, const T* mean, const T* rstd, const T* gy, T* dx, T* dw, T* db,
                   int64_t rows, int64_t D, bool rms);
// The float32 path training runs (norm_cpu_fast.cpp): the same math in float32, rows over OpenMP threads,
// dw/db summed in fixed row chunks (independent of the thread count).
void norm_forward_fast(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t D, float eps, bool rms);
void norm_backward_fast(const float* x, const float* w, const float* mean, const float* rstd, const float* gy,
                        float* dx, float* dw, float* db, int64_t rows, int64_t D, bool rms);
}  // namespace cpu

namespace cuda {
// The dw/db column reduction works in row chunks: one partial sum per chunk and column, then a fixed-
// order sum over chunks (deterministic, no atomics). The glue allocates `scratch` of
// 2 * norm_chunks(rows) * D floats.
inline int64_t norm_chunks(int64_t rows) { return rows < 128 ? (rows > 0 ? rows : 1) : 128; }
void norm_forward(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t rows,
                  int64_t D, float eps, bool rms);
void norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* gy, float* dx,
                   float* dw, float* db, float* scratch, int64_t rows, int64_t D, bool rms);
}  // namespace cuda

}  // namespace lra::ops
