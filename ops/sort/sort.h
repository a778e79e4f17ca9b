// Stable argsort along the last axis of int32 keys.
//
//   idx = argsort(keys):  keys [..., N] int32, idx [..., N] int32 with, per row r (rows = numel / N),
//     keys[r, idx[r, 0]] <= keys[r, idx[r, 1]] <= ...   and equal keys keep their order (stable):
//     idx[r, a] < idx[r, b] whenever a < b and keys[r, idx[r, a]] == keys[r, idx[r, b]].
//   Applied to a permutation p of 0..N-1, argsort(p) is its inverse (LSH attention's undo-sort).
//
// Not differentiable (integer in, integer out). Any dim may be 0 (an empty result); N must fit int32.
// Only int32 keys: the op sorts bucket ids and permutations. Float keys would need a rule for NaN and
// for -0.0 vs +0.0 (a radix sort orders -0.0 first, std::stable_sort keeps them equal), so they are
// left out until something needs them.
//
// Algorithms:
//   CPU   std::stable_sort of the index row by key: O(N log N) per row.
//   CUDA  cub::DeviceSegmentedRadixSort::SortPairs (CUB ships with the CUDA toolkit): one segment per
//         row, keys with values 0..N-1 as payload; LSD radix sort is stable. Scratch: the sorted keys
//         (discarded), the 0..N-1 payload, the R + 1 row offsets and CUB's temporary storage.
//         A naive kernel sits beside it (a thread per element computes its rank: the keys below it plus
//         the equal keys before it, O(N) per element), kept to check CUB's result and for timing.
// Cost (CUDA, CUB): 32-bit keys in ~4 passes of 8 bits, each reading and writing 8 bytes per element.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor argsort(const Tensor& keys);

namespace cpu {
void argsort(const int32_t* keys, int32_t* idx, int64_t rows, int64_t n);
}  // namespace cpu

namespace cuda {
// Bytes of scratch argsort() needs for rows × n (host only, no GPU work).
int64_t argsort_scratch_bytes(int64_t rows, int64_t n);
void argsort(const int32_t* keys, int32_t* idx, int64_t rows, int64_t n, void* scratch);
// The naive rank kernel (O(n^2) per row), the check on the CUB path.
void argsort_naive(const int32_t* keys, int32_t* idx, int64_t rows, int64_t n);
}  // namespace cuda

}  // namespace lra::ops
