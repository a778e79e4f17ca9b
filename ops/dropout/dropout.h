// Inverted dropout with a counter-based mask, optionally tied (shared) along one dim.
//
//   y = x * keep / (1 - p),  keep = 0 with probability p, else 1
//
// x has any shape. The mask comes from engine/rng.h: base = gen.reserve(uniform_counters(M)) for
// M mask values, and mask value m is dropped when philox_uniform(gen.seed(), base, m) < p. The mask is
// a pure function of (seed, base, m), so CPU and CUDA masks are bit-identical for the same generator
// state, and backward regenerates it instead of storing it.
//
// tied_dim (may count from the end; kNoTie = independent elements): one mask value per index with that
// dim removed, broadcast along it. x viewed as [outer, T, inner] (T = size of the tied dim): element
// (o, t, i) uses mask value m = o * inner + i, M = outer * inner. Example: x [B, L, D], tied_dim 1 → one
// mask value per (b, d), shared along L. Untied: m is the flat element index, M = numel.
//
// Batch window (engine/rng.h): when gen has one, x must be batch-led (dim 0 is the local batch, or at least
// its mask values split evenly into local_rows rows of R); the call reserves the mask of the whole global
// batch, R·global_rows values, and local mask value m is global value first_row·R + m, so a row's mask
// depends on its global row, not on how the batch is split. Tied along dim 0 the mask is shared by the
// batch and ignores the window. Without a window nothing changes (first = 0).
//
// Returns x itself (the same tensor, no copy, no generator draw) when !training or p == 0.
// An empty x (or an empty tied dim) gives an empty y; it still reserves outer * inner mask values.
// p must be in [0, 1). Kept values are exactly x / (1 - p) (a correctly rounded division on both
// backends, so the CPU and CUDA outputs are bit-identical too).
// Backward: dx = gy * keep / (1 - p), the same op applied to gy with the same (seed, base).
// Saved for backward: nothing but (seed, base, p, layout). Bytes moved: reads x, writes y (float32:
// 8 bytes/element), the same for backward; ~40 integer ops of Philox per 4 mask values.
#pragma once

#include <cstdint>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace lra::ops {

constexpr int kNoTie = -1000;

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training = true, int tied_dim = kNoTie);

// Raw entry point (forward and backward alike): x and y are [outer, T, inner]; y = x * keep / (1 - p)
// with keep from mask value first + o * inner + i of the stream (seed, base) (first: the element offset of
// this slice of a windowed batch, 0 otherwise). x == y is allowed.
namespace cpu {
template <class T>
void dropout_apply(const T* x, T* y, int64_t outer, int64_t tied, int64_t inner, double p, uint64_t seed,
                   uint64_t base, int64_t first = 0);
}  // namespace cpu

namespace cuda {
void dropout_apply(const float* x, float* y, int64_t outer, int64_t tied, int64_t inner, double p, uint64_t seed,
                   uint64_t base, int64_t first = 0);
}  // namespace cuda

}  // namespace lra::ops
