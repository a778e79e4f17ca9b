// Glue for the reductions: checks, output shapes, device dispatch, autograd records.
#include "ops/reduce/reduce.h"

#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

namespace {

// x viewed as [outer, n, inner] for a reduction over dim d.
struct Geometry {
  int64_t outer, n, inner;
  Shape out;  // the result's shape
};

Geometry geometry(const Tensor& x, int dim, bool keepdim, const char* op) {
  LRA_CHECK(x.ndim() > 0, op, ": cannot reduce a dim of the 0-dim tensor ", x.describe(), " (use ", op,
            "_all or reshape)");
  LRA_CHECK(dim >= -x.ndim() && dim < x.ndim(), op, ": dim ", dim, " is out of range for ", x.describe());
  int d = x.shape().wrap(dim);
  Geometry g{x.shape().prod(0, d), x.dim(d), x.shape().prod(d + 1, x.ndim()), Shape()};
  for (int k = 0; k < x.ndim(); ++k)
    if (k != d)
      g.out.push_back(x.dim(k));
    else if (keepdim)
      g.out.push_back(1);
  return g;
}

// The result of a reduction of an x with no elements, on either device and with no kernel: zeros of
// shape `out` (a sum over an empty dim, or an empty result), recorded; x's gradient has no elements.
Tensor reduce_nothing(const Tensor& x, const Shape& out, const char* op) {
  Tensor y = Tensor::zeros(out, x.dtype(), x.device());
  autograd::record(y, op, {x}, [x_shape = x.shape()](const Tensor& gy) {
    return std::vector<Tensor>{Tensor::zeros(x_shape, gy.dtype(), gy.device())};
  });
  return y;
}

// y = scale * (sum over the middle of [outer, n, inner]), recorded; `out` is y's shape.
Tensor sum_impl(const Tensor& x, const Geometry& g, double scale, const char* op) {
  if (x.numel() == 0) return reduce_nothing(x, g.out, op);
  Tensor y = Tensor::empty(g.out, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, op, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::sum_forward_fast(x.data<T>(), y.data<T>(), g.outer, g.n, g.inner, T(scale));
        else
          cpu::sum_forward<T>(x.data<T>(), y.data<T>(), g.outer, g.n, g.inner, T(scale));
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA({
        int64_t k = cuda::sum_scratch(g.outer, g.n, g.inner);
        Tensor scratch = k ? Tensor::empty(Shape{k}, DType::F32, Device::CUDA) : Tensor();
        cuda::sum_forward(x.data<float>(), y.data<float>(), g.outer, g.n, g.inner, float(scale),
                          k ? scratch.data<float>() : nullptr);
      });
      break;
  }
  autograd::record(y, op, {x}, [g, scale, op, x_shape = x.shape()](const Tensor& gy) {
    Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.device());
    switch (gy.device()) {
      case Device::CPU:
        dispatch_float(gy, op, [&](auto t) {
          using T = decltype(t);
          if constexpr (std::is_same_v<T, float>)
            cpu::sum_backward_fast(gy.data<T>(), gx.data<T>(), g.outer, g.n, g.inner, T(scale));
          else
            cpu::sum_backward<T>(gy.data<T>(), gx.data<T>(), g.outer, g.n, g.inner, T(scale));
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::sum_backward(gy.data<float>(), gx.data<float>(), g.outer, g.n, g.inner, float(scale)));
        break;
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

Geometry all_geometry(const Tensor& x) { return Geometry{1, x.numel(), 1, Shape()}; }

}  // namespace

Tensor sum(const Tensor& x, int dim, bool keepdim) {
  check_float(x, "sum", "x");
  return sum_impl(x, geometry(x, dim, keepdim, "sum"), 1.0, "sum");
}

Tensor mean(const Tensor& x, int dim, bool keepdim) {
  check_float(x, "mean", "x");
  Geometry g = geometry(x, dim, keepdim, "mean");
  LRA_CHECK(g.n > 0 || g.outer * g.inner == 0, "mean: dim ", dim, " of ", x.describe(),
            " is empty (a mean of nothing)");
  return sum_impl(x, g, 1.0 / double(g.n), "mean");
}

Tensor sum_all(const Tensor& x) {
  check_float(x, "sum_all", "x");
  return sum_impl(x, all_geometry(x), 1.0, "sum_all");
}

Tensor mean_all(const Tensor& x) {
  check_float(x, "mean_all", "x");
  LRA_CHECK(x.numel() > 0, "mean_all: ", x.describe(), " is empty (a mean of nothing)");
  return sum_impl(x, all_geometry(x), 1.0 / double(x.numel()), "mean_all");
}

Tensor max(const Tensor& x, int dim, bool keepdim) {
  check_float(x, "max", "x");
  Geometry g = geometry(x, dim, keepdim, "max");
  LRA_CHECK(g.n > 0, "max: dim ", dim, " of ", x.describe(), " is empty, so it has no maximum");
  LRA_CHECK(g.n <= INT32_MAX, "max: dim ", dim, " of ", x.describe(), " is too long for an int32 argmax");
  if (x.numel() == 0) return reduce_nothing(x, g.out, "max");  // n > 0: the result is empty
  Tensor y = Tensor::empty(g.out, x.dtype(), x.device());
  Tensor argmax = Tensor::empty(Shape{g.outer * g.inner}, DType::I32, x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "max", [&](auto t) {
        using T = decltype(t);
        cpu::max_forward<T>(x.data<T>(), y.data<T>(), argmax.data<int32_t>(), g.outer, g.n, g.inner);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::max_forward(x.data<float>(), y.data<float>(), argmax.data<int32_t>(), g.outer, g.n, g.inner));
      break;
  }
  autograd::record(y, "max", {x}, [g, argmax, x_shape = x.shape()](const Tensor& gy) {
    Tensor gx = Tensor::zeros(x_shape, gy.dtype(), gy.device());
    switch (gy.device()) {
      case Device::CPU:
        dispatch_float(gy, "max", [&](auto t) {
          using T = decltype(t);
          cpu::max_backward<T>(gy.data<T>(), argmax.data<int32_t>(), gx.data<T>(), g.outer, g.n, g.inner);
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::max_backward(gy.data<float>(), argmax.data<int32_t>(), gx.data<float>(), g.outer, g.n,
                                       g.inner));
        break;
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor masked_mean(const Tensor& x, const Tensor& mask) {
  check_float(x, "masked_mean", "x");
  LRA_CHECK(x.ndim() == 3, "masked_mean: x must be [B, L, D], got ", x.describe());
  LRA_CHECK(mask.defined() && mask.dtype() == DType::I32, "masked_mean: mask must be int32 [B, L], got ",
            mask.defined() ? mask.describe() : std::string("an undefined tensor"));
  LRA_CHECK(mask.shape() == Shape({x.dim(0), x.dim(1)}), "masked_mean: mask has shape ", mask.shape(),
            " but x is ", x.shape(), " (expected [", x.dim(0), ", ", x.dim(1), "])");
  check_same(x, mask, "masked_mean", "mask");
  int64_t B = x.dim(0), L = x.dim(1), D = x.dim(2);
  if (x.numel() == 0) return reduce_nothing(x, {B, D}, "masked_mean");  // L = 0: every row is empty
  Tensor y = Tensor::empty({B, D}, x.dtype(), x.device());
  Tensor inv_count = Tensor::empty({B}, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "masked_mean", [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::masked_mean_forward_fast(x.data<T>(), mask.data<int32_t>(), y.data<T>(), inv_count.data<T>(), B, L, D);
        else
          cpu::masked_mean_forward<T>(x.data<T>(), mask.data<int32_t>(), y.data<T>(), inv_count.data<T>(), B, L, D);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA({
        int64_t k = cuda::sum_scratch(B, L, D);
        Tensor scratch = k ? Tensor::empty(Shape{k}, DType::F32, Device::CUDA) : Tensor();
        cuda::masked_mean_forward(x.data<float>(), mask.data<int32_t>(), y.data<float>(), inv_count.data<float>(),
                                  B, L, D, k ? scratch.data<float>() : nullptr);
      });
      break;
  }
  autograd::record(y, "masked_mean", {x}, [mask, inv_count, B, L, D](const Tensor& gy) {
    Tensor gx = Tensor::empty({B, L, D}, gy.dtype(), gy.device());
    switch (gy.device()) {
      case Device::CPU:
        dispatch_float(gy, "masked_mean", [&](auto t) {
          using T = decltype(t);
          if constexpr (std::is_same_v<T, float>)
            cpu::masked_mean_backward_fast(gy.data<T>(), mask.data<int32_t>(), inv_count.data<T>(), gx.data<T>(), B,
                                           L, D);
          else
            cpu::masked_mean_backward<T>(gy.data<T>(), mask.data<int32_t>(), inv_count.data<T>(), gx.data<T>(), B, L,
                                         D);
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::masked_mean_backward(gy.data<float>(), mask.data<int32_t>(), inv_count.data<float>(),
                                               gx.data<float>(), B, L, D));
        break;
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace lra::ops
