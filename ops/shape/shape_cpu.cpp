// CPU reference for the shape kernels: plain loops over elements of T (block copies and fills as one
// contiguous run per outer index, over OpenMP threads when large), where T is an unsigned integer
// of the element's size (2, 4 or 8 bytes). Moving bit patterns keeps one code path for every dtype.
#include <algorithm>
#include <cstring>

#include "ops/shape/shape_ops.h"

namespace lra::ops::cpu {

namespace {

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

// Output element k, decomposed over the output dims from the last, picks up one source stride per dim.
// Output element k = (i_0, ..., i_{n−1}) reads x at Σ i_d·src_strides[d]. The index arithmetic is done
// once per output row (the last output dim), and rows run in OpenMP threads.
template <class T>
void permute_t(const T* x, T* y, const PermuteParams& p) {
  if (p.ndim == 0) {
    y[0] = x[0];
    return;
  }
  const int last = p.ndim - 1;
  const int64_t row = p.out_dims[last], step = p.src_strides[last];
  int64_t rows = 1;
  for (int i = 0; i < last; ++i) rows *= p.out_dims[i];
#pragma omp parallel for schedule(static) if (rows * row >= (int64_t(1) << 16))
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r, src = 0;
    for (int i = last - 1; i >= 0; --i) {
      src += (rest % p.out_dims[i]) * p.src_strides[i];
      rest /= p.out_dims[i];
    }
    T* out = y + r * row;
    for (int64_t j = 0; j < row; ++j) out[j] = x[src + j * step];
  }
}

// For a fixed o the block is one contiguous run of len * inner elements in both source and destination
// (the middle index and the inner index are adjacent), so each o is one copy; o over threads when the
// block is large (gMLP's split of [B·L, 2D] into halves is B·L runs of D elements).
template <class T>
void block_copy_t(const T* src, T* dst, const BlockParams& p) {
  const int64_t run = p.len * p.inner;
#pragma omp parallel for schedule(static) if (p.outer * run >= (int64_t(1) << 16))
  for (int64_t o = 0; o < p.outer; ++o) {
    const T* s = src + (o * p.src_n + p.src_begin) * p.inner;
    std::copy(s, s + run, dst + (o * p.dst_n + p.dst_begin) * p.inner);
  }
}

template <class T>
void block_fill_t(T* dst, int64_t outer, int64_t n, int64_t begin, int64_t len, int64_t inner, T value) {
  const int64_t run = len * inner;
#pragma omp parallel for schedule(static) if (outer * run >= (int64_t(1) << 16))
  for (int64_t o = 0; o < outer; ++o) std::fill_n(dst + (o * n + begin) * inner, run, value);
}

}  // namespace

void permute(const void* x, void* y, const PermuteParams& p, size_t elem_size) {
  dispatch_size(elem_size, "permute", [&](auto t) {
    using T = decltype(t);
    permute_t(static_cast<const T*>(x), static_cast<T*>(y), p);
  });
}

void block_copy(const void* src, void* dst, const BlockParams& p, size_t elem_size) {
  dispatch_size(elem_size, "block_copy", [&](auto t) {
    using T = decltype(t);
    block_copy_t(static_cast<const T*>(src), static_cast<T*>(dst), p);
  });
}

void block_fill(void* dst, int64_t outer, int64_t n, int64_t begin, int64_t len, int64_t inner, uint64_t bits,
                size_t elem_size) {
  dispatch_size(elem_size, "block_fill", [&](auto t) {
    using T = decltype(t);
    block_fill_t(static_cast<T*>(dst), outer, n, begin, len, inner, T(bits));
  });
}

}  // namespace lra::ops::cpu
