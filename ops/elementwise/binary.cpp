// Glue for the broadcasting binary ops and sum_to: shape checks, broadcast geometry, device dispatch
// (float32 on the CPU runs binary_cpu_fast.cpp, float64 the reference), autograd records.
#include "ops/elementwise/binary.h"

#include <algorithm>
#include <type_traits>

#include "ops/common.h"
#include "ops/elementwise/elementwise.h"

namespace lra::ops {

namespace {

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
  }
  return "binary";
}

// Dim d (0..4) of `s` padded on the left with 1s to 5 dims.
int64_t padded(const Shape& s, int d) {
  int k = d - (BroadcastGeometry::kDims - s.ndim());
  return k < 0 ? 1 : s[k];
}

// y = sum of x over the middle dim of [outer, n, inner], on x's device.
Tensor sum_middle_tensor(const Tensor& x, int64_t outer, int64_t n, int64_t inner) {
  Tensor y = Tensor::empty(Shape{outer * inner}, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "sum_to", [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::sum_middle_fast(x.data<T>(), y.data<T>(), outer, n, inner);
        else
          cpu::sum_middle<T>(x.data<T>(), y.data<T>(), outer, n, inner);
      });
      break;
    case Device::CUDA: {
      LRA_ON_CUDA({
        int64_t k = cuda::sum_middle_scratch(outer, n, inner);
        Tensor scratch = k ? Tensor::empty(Shape{k}, DType::F32, Device::CUDA) : Tensor();
        cuda::sum_middle(x.data<float>(), y.data<float>(), outer, n, inner, k ? scratch.data<float>() : nullptr);
      });
      break;
    }
  }
  return y;
}

// sum_to without autograd. Groups adjacent output dims into runs that are all kept or all reduced
// (dims of size 1 in g play no part), then sums away the reduced runs innermost first: each pass is
// one [outer, n, inner] reduction.
Tensor sum_to_raw(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  struct Run {
    int64_t size;
    bool reduced;
  };
  std::vector<Run> runs;
  for (int d = 0; d < BroadcastGeometry::kDims; ++d) {
    int64_t o = padded(g.shape(), d), t = padded(shape, d);
    if (o == 1) continue;
    bool reduced = t == 1;
    if (!runs.empty() && runs.back().reduced == reduced)
      runs.back().size *= o;
    else
      runs.push_back({o, reduced});
  }
  Tensor cur = g;
  for (int r = int(runs.size()) - 1; r >= 0; --r) {
    if (!runs[size_t(r)].reduced) continue;
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < r; ++k) outer *= runs[size_t(k)].size;
    for (size_t k = size_t(r) + 1; k < runs.size(); ++k) inner *= runs[k].size;
    cur = sum_middle_tensor(cur, outer, runs[size_t(r)].size, inner);
    runs.erase(runs.begin() + r);
  }
  return cur.view(shape);
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  check_float(a, name, "a");
  check_float(b, name, "b");
  check_same(a, b, name, "b");
  Shape out = broadcast_shape(a.shape(), b.shape(), name);
  BroadcastGeometry geo = broadcast_geometry(a.shape(), b.shape(), out);
  Tensor y = Tensor::empty(out, a.dtype(), a.device());
  switch (a.device()) {
    case Device::CPU:
      dispatch_float(a, name, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::binary_forward_fast(op, a.data<T>(), b.data<T>(), y.data<T>(), geo);
        else
          cpu::binary_forward<T>(op, a.data<T>(), b.data<T>(), y.data<T>(), geo);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::binary_forward(op, a.data<float>(), b.data<float>(), y.data<float>(), geo));
      break;
  }
  if (!autograd::needs_grad({a, b})) return y;
  bool need_a = autograd::needs_grad({a}), need_b = autograd::needs_grad({b});
  bool keep = op == BinaryOp::Mul || op == BinaryOp::Div;  // add and sub need no operand in backward
  Tensor as = keep ? a.detach() : Tensor(), bs = keep ? b.detach() : Tensor();
  autograd::record(y, name, {a, b},
                   [op, geo, need_a, need_b, as, bs, a_shape = a.shape(), b_shape = b.shape()](const Tensor& gy) {
    std::vector<Tensor> grads(2);
    if (op == BinaryOp::Add) {  // no per-element work: the gradient is gy itself
      if (need_a) grads[0] = sum_to_raw(gy, a_shape);
      if (need_b) grads[1] = sum_to_raw(gy, b_shape);
      return grads;
    }
    Tensor ga = need_a ? Tensor::empty(gy.shape(), gy.dtype(), gy.device()) : Tensor();
    Tensor gb = need_b ? Tensor::empty(gy.shape(), gy.dtype(), gy.device()) : Tensor();
    switch (gy.device()) {
      case Device::CPU:
        dispatch_float(gy, binary_name(op), [&](auto t) {
          using T = decltype(t);
          const T* ap = as.defined() ? as.data<T>() : nullptr;
          const T* bp = bs.defined() ? bs.data<T>() : nullptr;
          T* gap = need_a ? ga.data<T>() : nullptr;
          T* gbp = need_b ? gb.data<T>() : nullptr;
          if constexpr (std::is_same_v<T, float>)
            cpu::binary_backward_fast(op, ap, bp, gy.data<T>(), gap, gbp, geo);
          else
            cpu::binary_backward<T>(op, ap, bp, gy.data<T>(), gap, gbp, geo);
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::binary_backward(op, as.defined() ? as.data<float>() : nullptr,
                                          bs.defined() ? bs.data<float>() : nullptr, gy.data<float>(),
                                          need_a ? ga.data<float>() : nullptr, need_b ? gb.data<float>() : nullptr,
                                          geo));
        break;
    }
    if (need_a) grads[0] = sum_to_raw(ga, a_shape);
    if (need_b) grads[1] = sum_to_raw(gb, b_shape);
    return grads;
  });
  return y;
}

}  // namespace

BroadcastGeometry broadcast_geometry(const Shape& a, const Shape& b, const Shape& out) {
  constexpr int D = BroadcastGeometry::kDims;
  BroadcastGeometry g{};
  g.n = out.numel();
  g.same = a == out && b == out;
  int64_t sa = 1, sb = 1;  // row-major strides of a and b, built from the last dim
  for (int d = D - 1; d >= 0; --d) {
    int64_t da = padded(a, d), db = padded(b, d);
    g.out[d] = padded(out, d);
    g.a_stride[d] = da == 1 ? 0 : sa;
    g.b_stride[d] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  return g;
}

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  int n = std::max(a.ndim(), b.ndim());
  std::vector<int64_t> dims(static_cast<size_t>(n));
  for (int d = 0; d < n; ++d) {
    int ka = d - (n - a.ndim()), kb = d - (n - b.ndim());
    int64_t da = ka < 0 ? 1 : a[ka], db = kb < 0 ? 1 : b[kb];
    LRA_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b, " do not broadcast (dim ",
              d - n, " has sizes ", da, " and ", db, ")");
    dims[size_t(d)] = da == 1 ? db : da;
  }
  return Shape(dims);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  check_float(g, "sum_to", "g");
  bool ok = shape.ndim() <= g.ndim();
  for (int d = 0; ok && d < BroadcastGeometry::kDims; ++d)
    ok = padded(shape, d) == padded(g.shape(), d) || padded(shape, d) == 1;
  LRA_CHECK(ok, "sum_to: cannot sum ", g.describe(), " down to ", shape, " (", shape,
            " must broadcast to the shape of g)");
  Tensor y = sum_to_raw(g, shape);
  if (y.impl() == g.impl()) return g;
  // Backward: broadcast the gradient back up to g's shape.
  autograd::record(y, "sum_to", {g}, [g_shape = g.shape()](const Tensor& gy) {
    return std::vector<Tensor>{binary(BinaryOp::Add, Tensor::zeros(g_shape, gy.dtype(), gy.device()), gy)};
  });
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }

}  // namespace lra::ops
