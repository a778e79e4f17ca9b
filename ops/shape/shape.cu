// CUDA kernels for the shape ops: permute (transpose), block copy (concat, split, slice, pad) and block
// fill (pad's margins). Pure data movement, no arithmetic: the GPU result equals the CPU reference bit
// for bit. Elements are moved as unsigned integers of 2, 4 or 8 bytes, so one kernel serves float32,
// bfloat16 and int32.
//   permute:    x [d0, .., d{n-1}] (n <= 5) -> y with dims reordered; one thread per output element,
//               grid-stride, source offset from the strides in PermuteParams (passed by value). Writes
//               are coalesced, reads are strided when the last dim moves. Bytes: 2 * numel * elem_size.
//   block copy: [outer, len, inner] block between tensors viewed as [outer, N, inner]; one thread per
//               element, both sides contiguous in `inner`. Bytes: 2 * outer * len * inner * elem_size.
//   block fill: the same indexing, writes only.
// Nothing is saved for backward: the backward of each op is another call of these kernels.
// Version log: v1 naive grid-stride kernels, the direct port of shape_cpu.cpp (a shared-memory tiled
// transpose is the natural v2 once a benchmark shows permute in a profile).
#include "engine/cuda.h"
#include "ops/shape/shape_ops.h"

namespace lra::ops::cuda {

using lra::cuda::blocks_for;
using lra::cuda::stream;

namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void permute_kernel(const T* x, T* y, PermuteParams p, int64_t n) {
  LRA_GRID_STRIDE(k, n) {
    // Decompose the output index from the last dim; each output coordinate steps its source stride.
    int64_t rest = k, src = 0;
#pragma unroll
    for (int i = 4; i >= 0; --i) {
      if (i < p.ndim) {
        src += (rest % p.out_dims[i]) * p.src_strides[i];
        rest /= p.out_dims[i];
      }
    }
    y[k] = x[src];
  }
}

template <class T>
__global__ void block_copy_kernel(const T* src, T* dst, BlockParams p, int64_t n) {
  int64_t block = p.len * p.inner;
  LRA_GRID_STRIDE(k, n) {
    int64_t o = k / block, r = k % block;
    int64_t j = r / p.inner, i = r % p.inner;
    dst[(o * p.dst_n + p.dst_begin + j) * p.inner + i] = src[(o * p.src_n + p.src_begin + j) * p.inner + i];
  }
}

template <class T>
__global__ void block_fill_kernel(T* dst, int64_t mid, int64_t begin, int64_t len, int64_t inner, T value,
                                  int64_t n) {
  int64_t block = len * inner;
  LRA_GRID_STRIDE(k, n) {
    int64_t o = k / block, r = k % block;
    dst[(o * mid + begin) * inner + r] = value;  // the block's rows are contiguous within one o
  }
}

// Calls f(T{}) with T an unsigned integer of elem_size bytes.
template <class F>
void dispatch_size(size_t elem_size, const char* op, F&& f) {
  switch (elem_size) {
    case 2: f(uint16_t{}); return;
    case 4: f(uint32_t{}); return;
    case 8: f(uint64_t{}); return;
    default: fail(str(op, ": unsupported element size ", elem_size, " bytes"));
  }
}

}  // namespace

void permute(const void* x, void* y, const PermuteParams& p, size_t elem_size) {
  int64_t n = 1;
  for (int i = 0; i < p.ndim; ++i) n *= p.out_dims[i];
  if (n == 0) return;
  dispatch_size(elem_size, "permute", [&](auto t) {
    using T = decltype(t);
    permute_kernel<T><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(static_cast<const T*>(x),
                                                                         static_cast<T*>(y), p, n);
    LRA_KERNEL_CHECK();
  });
}

void block_copy(const void* src, void* dst, const BlockParams& p, size_t elem_size) {
  int64_t n = p.outer * p.len * p.inner;
  if (n == 0) return;
  dispatch_size(elem_size, "block_copy", [&](auto t) {
    using T = decltype(t);
    block_copy_kernel<T><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(static_cast<const T*>(src),
                                                                            static_cast<T*>(dst), p, n);
    LRA_KERNEL_CHECK();
  });
}

void block_fill(void* dst, int64_t outer, int64_t n, int64_t begin, int64_t len, int64_t inner, uint64_t bits,
                size_t elem_size) {
  int64_t total = outer * len * inner;
  if (total == 0) return;
  dispatch_size(elem_size, "block_fill", [&](auto t) {
    using T = decltype(t);
    block_fill_kernel<T><<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(static_cast<T*>(dst), n, begin,
                                                                                len, inner, T(bits), total);
    LRA_KERNEL_CHECK();
  });
}

}  // namespace lra::ops::cuda
