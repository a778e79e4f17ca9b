// Shape ops: reshape, transpose, permute, concat, split, slice, pad.
//
// Tensors are contiguous (engine/tensor.h), so every op except reshape is an honest copy with its own
// kernel, and all of them reduce to two raw kernels:
//   * permute:    y[i0, .., i{n-1}] = x[the same indices, reordered by perm], n <= 5 dims. One thread per
//                 output element computes its source offset from strides passed by value (PermuteParams).
//                 transpose is permute with two dims swapped. Bytes moved: read n, write n elements.
//   * block copy: tensors viewed as [outer, N, inner] (outer = dims before `dim`, inner = dims after);
//                 copies a block [outer, len, inner] from middle offset src_begin of the source to middle
//                 offset dst_begin of the destination (BlockParams). concat, split and slice are block
//                 copies; pad is a block copy plus a block fill of the two margins.
// Both kernels move raw elements of 2, 4 or 8 bytes, so they serve float32, float64 (CPU), bfloat16
// and int32 (token ids, masks) alike. Only float tensors are differentiated.
//
// Backward (nothing is saved but shapes): reshape -> reshape back; transpose/permute -> the inverse
// permutation; concat -> a slice per input; split -> each piece pads its gradient into place (autograd
// sums the pieces); slice -> pad with zeros; pad -> slice.
//
// Negative dims count from the end (-1 is the last dim). Empty tensors and empty pieces (a split size,
// a slice or a pad of 0) are fine and launch nothing; reshape cannot infer a -1 beside a 0 dim (every
// size would fit) and says so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace lra::ops {

// A view of x with shape `dims` (same storage, same number of elements); at most one dim may be -1
// and is then inferred.
Tensor reshape(const Tensor& x, std::vector<int64_t> dims);
// Swaps dims dim0 and dim1 (a copy).
Tensor transpose(const Tensor& x, int dim0, int dim1);
// y.dim(i) = x.dim(dims[i]) (a copy); dims is a permutation of 0..ndim-1.
Tensor permute(const Tensor& x, std::vector<int> dims);
// Joins tensors along dim; all other dims must match.
Tensor concat(const std::vector<Tensor>& xs, int dim);
// Cuts x along dim into pieces of the given sizes (which sum to x.dim(dim)); each piece is a copy.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim);
// Elements [begin, end) along dim (a copy).
Tensor slice(const Tensor& x, int dim, int64_t begin, int64_t end);
// Adds `before` and `after` elements of `value` on either side of dim.
Tensor pad(const Tensor& x, int dim, int64_t before, int64_t after, double value = 0.0);

// The permute kernel's arguments: output dim i has size out_dims[i] and steps src_strides[i] elements
// through the source. Dims past ndim are unused.
struct PermuteParams {
  int ndim = 0;
  int64_t out_dims[5] = {};
  int64_t src_strides[5] = {};
};
// PermuteParams for x of shape in_dims permuted by perm (y.dim(i) = in_dims[perm[i]]).
PermuteParams permute_params(const std::vector<int64_t>& in_dims, const std::vector<int>& perm);

// The block copy's arguments: source [outer, src_n, inner], destination [outer, dst_n, inner]; the block
// [outer, len, inner] starts at middle index src_begin in the source and dst_begin in the destination.
struct BlockParams {
  int64_t outer = 1, inner = 1;
  int64_t src_n = 0, src_begin = 0;
  int64_t dst_n = 0, dst_begin = 0;
  int64_t len = 0;
};

// Raw entry points: raw pointers, an element size of 2, 4 or 8 bytes, no Tensor.
namespace cpu {
void permute(const void* x, void* y, const PermuteParams& p, size_t elem_size);
void block_copy(const void* src, void* dst, const BlockParams& p, size_t elem_size);
// Fills dst[:, begin:begin+len, :] of a destination [outer, n, inner] with `bits` (the value's bit
// pattern in the low elem_size bytes).
void block_fill(void* dst, int64_t outer, int64_t n, int64_t begin, int64_t len, int64_t inner, uint64_t bits,
                size_t elem_size);
}  // namespace cpu

namespace cuda {
void permute(const void* x, void* y, const PermuteParams& p, size_t elem_size);
void block_copy(const void* src, void* dst, const BlockParams& p, size_t elem_size);
void block_fill(void* dst, int64_t outer, int64_t n, int64_t begin, int64_t len, int64_t inner, uint64_t bits,
                size_t elem_size);
}  // namespace cuda

}  // namespace lra::ops
