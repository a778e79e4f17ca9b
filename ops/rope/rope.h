// Rotary position embedding (RoPE), applied to queries and keys.
//
//   x viewed as [rows, L, D] (any leading dims), D even. Consecutive channels (2i, 2i+1) form plane i,
//   i = 0..D/2-1, with frequency theta_i = base^(-2i/D). At position p (0..L-1) the plane rotates by
//   a = p * theta_i:
//       y[2i]   = x[2i] cos a - x[2i+1] sin a
//       y[2i+1] = x[2i] sin a + x[2i+1] cos a
//   disable_half: theta_i = 0 for every EVEN i (planes 0, 2, 4, ...), so half of the planes carry no
//   position (cos = 1, sin = 0: the identity). This is what the locality-bias paper's code hard-wires
//   (long-transformers src/utils/rotary_embedding.py: `thetas[::2] = 0`); plane 0, the fastest
//   frequency, is one of the disabled ones.
//
// Two ways to use it, which differ only in what D is:
//   * per head:   rope(q) with q [B, H, L, d]. Every head sees the full band theta_i = base^(-2i/d).
//   * full width: rope(q) with q [B, L, D_model], BEFORE splitting D_model into H heads of d channels.
//     theta_i = base^(-2i/D_model), so head h gets planes h*d/2 .. (h+1)*d/2-1: head 0 the highest
//     frequencies, the last head the lowest. This is what the locality-bias paper's code does.
//
// Any of the leading dims, L or D (even, so 0 too) may be 0: y and gx are then empty.
//
// Backward is the inverse rotation (by -a): gx[2i] = g[2i] cos a + g[2i+1] sin a,
// gx[2i+1] = -g[2i] sin a + g[2i+1] cos a. Nothing but the table is saved for backward.
//
// Cos/sin tables: [L, D/2] each, computed in double and rounded to the tensor's dtype, built on the
// tensor's device (a kernel on the GPU, so no host transfer) and cached per (L, D, base, disable_half,
// dtype, device). The cache is guarded by a mutex, so ops may run from several threads; it only grows
// (a few distinct lengths in practice: L = 16384, D = 512 costs 32 MB of float32), and
// rope_clear_cache() drops it. Cost: one pass, reads and writes 4 bytes per element (float32) plus the
// table (L*D*4 bytes, shared across rows and served from L2); ~6 FLOPs per pair.
#pragma once

#include <cstdint>
#include <utility>

#include "engine/tensor.h"

namespace lra::ops {

struct RopeOptions {
  double base = 10000;        // frequency base ("freq" in the paper's code)
  bool disable_half = false;  // zero every even-indexed frequency: half the planes are position-free
};

// x [..., L, D] -> rotated x, same shape.
Tensor rope(const Tensor& x, const RopeOptions& opts = {});
// Rotates q and k (each [..., L, D], same L and D; leading dims may differ) in one launch. Autograd
// records one node per output, so the backward runs one launch per tensor that needs a gradient.
std::pair<Tensor, Tensor> rope_qk(const Tensor& q, const Tensor& k, const RopeOptions& opts = {});

// The cached tables (cos, sin), each [L, D/2], for this dtype and device.
std::pair<Tensor, Tensor> rope_tables(int64_t L, int64_t D, const RopeOptions& opts, DType dtype, Device device);
void rope_clear_cache();

// Raw entry points. x, y are [rows_x, L, D] and u, v are [rows_u, L, D] (rows_u may be 0, then u, v
// are ignored); cos_t, sin_t are [L, D/2]. sign = +1 rotates forward, -1 rotates back (the backward).
// y may alias x, v may alias u.
namespace cpu {
template <class T>
void rope_table(T* cos_t, T* sin_t, int64_t L, int64_t D, double base, bool disable_half);
template <class T>
void rope_apply(const T* x, T* y, int64_t rows_x, const T* u, T* v, int64_t rows_u, const T* cos_t, const T* sin_t,
                int64_t L, int64_t D, int sign);
}  // namespace cpu

namespace cuda {
void rope_table(float* cos_t, float* sin_t, int64_t L, int64_t D, double base, bool disable_half);
void rope_apply(const float* x, float* y, int64_t rows_x, const float* u, float* v, int64_t rows_u,
                const float* cos_t, const float* sin_t, int64_t L, int64_t D, int sign);
}  // namespace cuda

}  // namespace lra::ops
