// Glue for the shape ops: argument checks, allocation, device dispatch, autograd records. Everything
// here is built from three raw kernels (permute, block copy, block fill; see shape_ops.h), called
// through the *_into helpers below, which the backward functions reuse.
#include <cstring>

#include "ops/common.h"
#include "ops/shape/shape_ops.h"

namespace lra::ops {

namespace {

template <class V>
std::string list_str(const V& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

void check_defined(const Tensor& x, const char* op, const char* arg = "x") {
  LRA_CHECK(x.defined(), op, ": ", arg, " is an undefined tensor");
}

// dim counted from the end when negative, or an error naming the op.
int wrap_dim(const Tensor& x, int dim, const char* op, const char* arg = "dim") {
  int n = x.ndim();
  LRA_CHECK(dim >= -n && dim < n, op, ": ", arg, " ", dim, " is out of range for x of shape ", x.shape(), " (",
            n, " dims)");
  return dim < 0 ? dim + n : dim;
}

// The bit pattern of `value` in dtype t, for the fill kernel.
uint64_t value_bits(double value, DType t) {
  uint64_t bits = 0;
  switch (t) {
    case DType::F32: { float f = float(value); std::memcpy(&bits, &f, 4); break; }
    case DType::F64: std::memcpy(&bits, &value, 8); break;
    case DType::BF16: bits = bf16::from_float(float(value)).bits; break;
    case DType::I32: { int32_t i = int32_t(value); std::memcpy(&bits, &i, 4); break; }
  }
  return bits;
}

// y = x permuted by perm (already wrapped and validated); no autograd.
Tensor permute_raw(const Tensor& x, const std::vector<int>& perm) {
  Shape out;
  for (int d : perm) out.push_back(x.dim(d));
  Tensor y = Tensor::empty(out, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  PermuteParams p = permute_params(x.shape().vec(), perm);
  size_t es = dtype_size(x.dtype());
  switch (x.device()) {
    case Device::CPU: cpu::permute(x.raw_data(), y.raw_data(), p, es); break;
    case Device::CUDA: LRA_ON_CUDA(cuda::permute(x.raw_data(), y.raw_data(), p, es)); break;
  }
  return y;
}

// Copies src[.., src_begin : src_begin+len, ..] (along dim d) into dst[.., dst_begin : dst_begin+len, ..];
// src and dst agree on every dim but d.
void copy_block(const Tensor& src, int64_t src_begin, Tensor& dst, int64_t dst_begin, int d, int64_t len) {
  BlockParams p;
  p.outer = src.shape().prod(0, d);
  p.inner = src.shape().prod(d + 1, src.ndim());
  p.src_n = src.dim(d);
  p.src_begin = src_begin;
  p.dst_n = dst.dim(d);
  p.dst_begin = dst_begin;
  p.len = len;
  if (p.outer * p.len * p.inner == 0) return;
  size_t es = dtype_size(src.dtype());
  switch (src.device()) {
    case Device::CPU: cpu::block_copy(src.raw_data(), dst.raw_data(), p, es); break;
    case Device::CUDA: LRA_ON_CUDA(cuda::block_copy(src.raw_data(), dst.raw_data(), p, es)); break;
  }
}

// Sets dst[.., begin : begin+len, ..] (along dim d) to value.
void fill_block(Tensor& dst, int d, int64_t begin, int64_t len, double value) {
  int64_t outer = dst.shape().prod(0, d), inner = dst.shape().prod(d + 1, dst.ndim());
  if (outer * len * inner == 0) return;
  uint64_t bits = value_bits(value, dst.dtype());
  size_t es = dtype_size(dst.dtype());
  switch (dst.device()) {
    case Device::CPU: cpu::block_fill(dst.raw_data(), outer, dst.dim(d), begin, len, inner, bits, es); break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::block_fill(dst.raw_data(), outer, dst.dim(d), begin, len, inner, bits, es));
      break;
  }
}

Tensor slice_raw(const Tensor& x, int d, int64_t begin, int64_t end) {
  Shape s = x.shape();
  s[d] = end - begin;
  Tensor y = Tensor::empty(s, x.dtype(), x.device());
  copy_block(x, begin, y, 0, d, end - begin);
  return y;
}

Tensor pad_raw(const Tensor& x, int d, int64_t before, int64_t after, double value) {
  Shape s = x.shape();
  int64_t n = x.dim(d);
  s[d] = before + n + after;
  Tensor y = Tensor::empty(s, x.dtype(), x.device());
  fill_block(y, d, 0, before, value);
  copy_block(x, 0, y, before, d, n);
  fill_block(y, d, before + n, after, value);
  return y;
}

}  // namespace

PermuteParams permute_params(const std::vector<int64_t>& in_dims, const std::vector<int>& perm) {
  int n = int(in_dims.size());
  LRA_CHECK(n <= 5 && int(perm.size()) == n, "permute_params: ", n, " dims and a permutation of ", perm.size());
  int64_t strides[5] = {};
  int64_t s = 1;
  for (int i = n - 1; i >= 0; --i) {
    strides[i] = s;
    s *= in_dims[size_t(i)];
  }
  PermuteParams p;
  p.ndim = n;
  for (int i = 0; i < n; ++i) {
    p.out_dims[i] = in_dims[size_t(perm[size_t(i)])];
    p.src_strides[i] = strides[perm[size_t(i)]];
  }
  return p;
}

Tensor reshape(const Tensor& x, std::vector<int64_t> dims) {
  check_defined(x, "reshape");
  LRA_CHECK(dims.size() <= size_t(Shape::kMaxDims), "reshape: shape ", list_str(dims), " has more than ",
            Shape::kMaxDims, " dims");
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1) {
      LRA_CHECK(infer < 0, "reshape: shape ", list_str(dims), " has more than one -1");
      infer = int(i);
    } else {
      LRA_CHECK(dims[i] >= 0, "reshape: shape ", list_str(dims), " has a negative dim other than -1");
      known *= dims[i];
    }
  }
  if (infer >= 0) {
    LRA_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot infer the -1 in ", list_str(dims),
              " for x of shape ", x.shape(), " (", x.numel(), " elements)");
    dims[size_t(infer)] = x.numel() / known;
  }
  Shape s(dims);
  LRA_CHECK(s.numel() == x.numel(), "reshape: cannot reshape x of shape ", x.shape(), " (", x.numel(),
            " elements) to ", s, " (", s.numel(), " elements)");
  Tensor y = x.view(s);
  autograd::record(y, "reshape", {x}, [in = x.shape()](const Tensor& gy) { return std::vector<Tensor>{gy.view(in)}; });
  return y;
}

Tensor permute(const Tensor& x, std::vector<int> dims) {
  check_defined(x, "permute");
  LRA_CHECK(int(dims.size()) == x.ndim(), "permute: dims ", list_str(dims), " has ", dims.size(),
            " entries but x of shape ", x.shape(), " has ", x.ndim(), " dims");
  std::vector<bool> seen(dims.size(), false);
  for (int& d : dims) {
    d = wrap_dim(x, d, "permute", "dims entry");
    LRA_CHECK(!seen[size_t(d)], "permute: dims ", list_str(dims), " names dim ", d,
              " twice; it must be a permutation of the ", x.ndim(), " dims of x of shape ", x.shape());
    seen[size_t(d)] = true;
  }
  Tensor y = permute_raw(x, dims);
  std::vector<int> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) inverse[size_t(dims[i])] = int(i);
  autograd::record(y, "permute", {x}, [inverse](const Tensor& gy) {
    return std::vector<Tensor>{permute_raw(gy, inverse)};
  });
  return y;
}

Tensor transpose(const Tensor& x, int dim0, int dim1) {
  check_defined(x, "transpose");
  int a = wrap_dim(x, dim0, "transpose", "dim0"), b = wrap_dim(x, dim1, "transpose", "dim1");
  std::vector<int> perm(size_t(x.ndim()));
  for (int i = 0; i < x.ndim(); ++i) perm[size_t(i)] = i;
  std::swap(perm[size_t(a)], perm[size_t(b)]);
  return permute(x, perm);
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  LRA_CHECK(!xs.empty(), "concat: needs at least one input");
  for (size_t i = 0; i < xs.size(); ++i) LRA_CHECK(xs[i].defined(), "concat: input ", i, " is an undefined tensor");
  const Tensor& x0 = xs[0];
  int d = wrap_dim(x0, dim, "concat");
  Shape out = x0.shape();
  out[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    LRA_CHECK(x.dtype() == x0.dtype() && x.device() == x0.device(), "concat: input ", i, " is ", x.describe(),
              " but input 0 is ", x0.describe());
    bool match = x.ndim() == x0.ndim();
    for (int k = 0; match && k < x.ndim(); ++k) match = k == d || x.dim(k) == x0.dim(k);
    LRA_CHECK(match, "concat: input ", i, " has shape ", x.shape(), " but input 0 has ", x0.shape(),
              ": all dims except ", d, " must match");
    out[d] += x.dim(d);
  }
  Tensor y = Tensor::empty(out, x0.dtype(), x0.device());
  // Input i fills [offsets[i], offsets[i] + lens[i]) of dim d; its gradient is that slice of gy.
  std::vector<int64_t> offsets, lens;
  std::vector<bool> needs;
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    copy_block(x, 0, y, offset, d, x.dim(d));
    offsets.push_back(offset);
    lens.push_back(x.dim(d));
    needs.push_back(autograd::needs_grad({x}));
    offset += x.dim(d);
  }
  autograd::record(y, "concat", xs, [d, offsets, lens, needs](const Tensor& gy) {
    std::vector<Tensor> g(offsets.size());
    for (size_t i = 0; i < g.size(); ++i)
      if (needs[i]) g[i] = slice_raw(gy, d, offsets[i], offsets[i] + lens[i]);
    return g;
  });
  return y;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim) {
  check_defined(x, "split");
  int d = wrap_dim(x, dim, "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    LRA_CHECK(s >= 0, "split: sizes ", list_str(sizes), " has a negative size");
    total += s;
  }
  LRA_CHECK(total == x.dim(d), "split: sizes ", list_str(sizes), " sum to ", total, " but dim ", d,
            " of x of shape ", x.shape(), " has size ", x.dim(d));
  std::vector<Tensor> pieces;
  int64_t begin = 0, n = x.dim(d);
  for (int64_t s : sizes) {
    Tensor p = slice_raw(x, d, begin, begin + s);
    // Each piece pads its own gradient back into x's shape; autograd sums the pieces' contributions.
    autograd::record(p, "split", {x}, [d, begin, after = n - begin - s](const Tensor& gy) {
      return std::vector<Tensor>{pad_raw(gy, d, begin, after, 0.0)};
    });
    pieces.push_back(p);
    begin += s;
  }
  return pieces;
}

Tensor slice(const Tensor& x, int dim, int64_t begin, int64_t end) {
  check_defined(x, "slice");
  int d = wrap_dim(x, dim, "slice");
  int64_t n = x.dim(d);
  LRA_CHECK(0 <= begin && begin <= end && end <= n, "slice: [", begin, ", ", end, ") is not a range inside dim ",
            d, " of x of shape ", x.shape(), " (size ", n, ")");
  Tensor y = slice_raw(x, d, begin, end);
  autograd::record(y, "slice", {x}, [d, begin, after = n - end](const Tensor& gy) {
    return std::vector<Tensor>{pad_raw(gy, d, begin, after, 0.0)};
  });
  return y;
}

Tensor pad(const Tensor& x, int dim, int64_t before, int64_t after, double value) {
  check_defined(x, "pad");
  int d = wrap_dim(x, dim, "pad");
  LRA_CHECK(before >= 0 && after >= 0, "pad: before (", before, ") and after (", after,
            ") must be >= 0 for x of shape ", x.shape());
  Tensor y = pad_raw(x, d, before, after, value);
  autograd::record(y, "pad", {x}, [d, before, n = x.dim(d)](const Tensor& gy) {
    return std::vector<Tensor>{slice_raw(gy, d, before, before + n)};
  });
  return y;
}

}  // namespace lra::ops
