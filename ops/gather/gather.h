// Gather along one axis, with its scatter-add backward.
//
//   y = gather(x, dim, index):  x [A..., N, C...] viewed as [outer, N, inner], index [A..., M] int32
//   (the dims of x before `dim`, then M) viewed as [outer, M]; y [A..., M, C...] = [outer, M, inner]:
//     y[o, m, c] = x[o, index[o, m], c]
//   Indices must lie in [0, N): the CPU checks and throws; CUDA cannot check without a host
//   synchronisation and writes a zero row for an index outside (as ops/embedding does).
//   Per row o this is jnp.take / torch.gather with a whole trailing block per index: the sort and
//   undo-sort of LSH attention (x [B·H, n_hashes·L, d], index a permutation per row).
//
// Backward (g = ∂y, fresh ∂x):  ∂x[o, n, c] = Σ_{m: index[o, m] = n} g[o, m, c]   (a scatter-add; an
//   index used twice receives both rows, an index never used gets 0). The sum runs over m in increasing
//   order on both devices (the CUDA kernel gives each (o, c) column to one thread), so it is
//   deterministic and CPU and GPU add in the same order.
// Float32/float64 x (float32 on CUDA); int32 index. Any extent may be 0 (N = 0 only with M = 0).
// Saved for backward: index (and N). Cost: forward reads 4·|index| + 4·|y| bytes (gathered rows) and
// writes 4·|y|; backward zeroes 4·|x|, reads 4·|g| + 4·|index| and read-modify-writes 4·|g| bytes.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor gather(const Tensor& x, int dim, const Tensor& index);

struct GatherShape {
  int64_t outer = 1, N = 1, M = 1, inner = 1;  // x [outer, N, inner], index [outer, M], y [outer, M, inner]
};

namespace cpu {
// Throws when an index is outside [0, N).
template <class T>
void gather_forward(const GatherShape& s, const T* x, const int32_t* index, T* y);
// gx is overwritten (zeroed, then the rows of g added in m order).
template <class T>
void gather_backward(const GatherShape& s, const int32_t* index, const T* g, T* gx);
}  // namespace cpu

namespace cuda {
void gather_forward(const GatherShape& s, const float* x, const int32_t* index, float* y);
void gather_backward(const GatherShape& s, const int32_t* index, const float* g, float* gx);
}  // namespace cuda

}  // namespace lra::ops
