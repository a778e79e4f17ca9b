// Embedding lookup: y[..., d] = table[ids[...], d].
//
//   ids:   int32, any shape [...] (rank <= 4), values in [0, V)
//   table: [V, D] float
//   y:     [..., D]
//
// Empty extents: ids may be empty (y [..., D] is empty, dtable is zeros) and D may be 0. A table with no
// rows (V = 0) is an error on both devices: no id can be in range.
//
// Out-of-range ids: on the CPU an error naming the flat position and the value ("embedding: id 12 at
// position 5 is outside the table's 10 rows"). On CUDA the kernel writes a zero row for such an id
// and its gradient is dropped: checking would need a host synchronisation in every step.
//
// Backward: dtable[v, :] = sum over positions i with ids[i] == v of gy[i, :] (a scatter-add; rows never
// looked up get exactly 0). The CPU adds in position order; CUDA uses float atomicAdd, so repeated ids
// accumulate in an unspecified order (not bit-reproducible run to run; differences are a few ulps).
// ids are never differentiated.
// Saved for backward: ids. Bytes moved (float32): forward reads n ids and n * D table values, writes
// n * D; backward reads n * D gradients and does n * D atomic adds into V * D zeroed values.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace lra::ops {

Tensor embedding(const Tensor& ids, const Tensor& table);

// Raw entry points: ids [n], table / dtable [V, D], y / gy [n, D]. The CPU versions expect ids in
// range (the glue checks); the CUDA versions write zeros for / skip out-of-range ids. backward
// ACCUMULATES into dtable (zero it first).
namespace cpu {
template <class T>
void embedding_forward(const int32_t* ids, const T* table, T* y, int64_t n, int64_t V, int64_t D);
template <class T>
void embedding_backward(const int32_t* ids, const T* gy, T* dtable, int64_t n, int64_t V, int64_t D);
}  // namespace cpu

namespace cuda {
void embedding_forward(const int32_t* ids, const float* table, float* y, int64_t n, int64_t V, int64_t D);
void embedding_backward(const int32_t* ids, const float* gy, float* dtable, int64_t n, int64_t V, int64_t D);
}  // namespace cuda

}  // namespace lra::ops
