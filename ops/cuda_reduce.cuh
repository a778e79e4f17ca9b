// Warp and block reductions shared by the row-wise CUDA kernels (softmax, cross-entropy, norms, ...).
// A "group" is either one warp (WARP = true: a row per warp, for short rows) or the whole block
// (WARP = false: a row per block, for long rows). Include only from .cu files.
#pragma once

#include <cstdint>

namespace lra::ops::cuda {

struct Sum {
  template <class V>
  __device__ V operator()(V a, V b) const { return a + b; }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Butterfly reduction: every lane of the warp gets the result.
template <class V, class Op>
__device__ V warp_reduce(V v, Op op) {
  for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Reduces v over the group; every thread gets the result. `partials` is 32 values of shared memory,
// unused in warp mode. In block mode every thread of the block must call it (it synchronises).
template <bool WARP, class V, class Op>
__device__ V group_reduce(V v, Op op, V identity, V* partials) {
  v = warp_reduce(v, op);
  if (WARP) return v;
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();  // the previous reduction's readers are done with `partials`
  if (lane == 0) partials[warp] = v;
  __syncthreads();
  v = lane < int(blockDim.x / 32) ? partials[lane] : identity;
  return warp_reduce(v, op);
}

// The row this thread works on, and its index among the row's threads and their count.
template <bool WARP>
__device__ int64_t group_row(int& tid, int& nthreads) {
  if (WARP) {
    tid = threadIdx.x % 32;
    nthreads = 32;
    return int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  }
  tid = threadIdx.x;
  nthreads = blockDim.x;
  return blockIdx.x;
}

}  // namespace lra::ops::cuda
