// Glue for gather along an axis: checks, allocation, device dispatch and the autograd record.
#include "ops/gather/gather.h"

#include "ops/common.h"

namespace lra::ops {

namespace {

GatherShape check_args(const Tensor& x, int& dim, const Tensor& index) {
  check_float(x, "gather", "x");
  LRA_CHECK(index.defined() && index.dtype() == DType::I32, "gather: index must be int32, got ", index.describe());
  LRA_CHECK(index.device() == x.device(), "gather: index is on ", device_name(index.device()), " but x is on ",
            device_name(x.device()));
  const int nd = int(x.ndim());
  LRA_CHECK(dim >= -nd && dim < nd, "gather: dim ", dim, " is out of range for x ", x.shape().to_string());
  if (dim < 0) dim += nd;
  LRA_CHECK(index.ndim() == dim + 1, "gather: index ", index.shape().to_string(), " must have the dims of x ",
            x.shape().to_string(), " before dim ", dim, ", then the number of indices");
  GatherShape s;
  s.outer = 1;
  for (int i = 0; i < dim; ++i) {
    LRA_CHECK(index.dim(i) == x.dim(i), "gather: index ", index.shape().to_string(), " and x ",
              x.shape().to_string(), " differ in dim ", i, " (the dims before dim ", dim, " must match)");
    s.outer *= x.dim(i);
  }
  s.N = x.dim(dim);
  s.M = index.dim(dim);
  s.inner = 1;
  for (int i = dim + 1; i < nd; ++i) s.inner *= x.dim(i);
  LRA_CHECK(s.N > 0 || s.M == 0 || s.outer == 0, "gather: x ", x.shape().to_string(), " has no rows along dim ",
            dim, " to take ", s.M, " indices from");
  return s;
}

Tensor backward(const GatherShape& s, const Shape& x_shape, const Tensor& index, const Tensor& g) {
  Tensor gx = Tensor::empty(x_shape, g.dtype(), g.device());
  if (gx.numel() == 0) return gx;
  switch (g.device()) {
    case Device::CPU:
      dispatch_float(g, "gather", [&](auto t) {
        using T = decltype(t);
        cpu::gather_backward<T>(s, index.data<int32_t>(), g.data<T>(), gx.data<T>());
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::gather_backward(s, index.data<int32_t>(), g.data<float>(), gx.data<float>()));
      break;
  }
  return gx;
}

}  // namespace

Tensor gather(const Tensor& x, int dim, const Tensor& index) {
  const GatherShape s = check_args(x, dim, index);
  Shape y_shape = x.shape();
  y_shape[dim] = s.M;
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  if (y.numel() > 0) {
    switch (x.device()) {
      case Device::CPU:
        dispatch_float(x, "gather", [&](auto t) {
          using T = decltype(t);
          cpu::gather_forward<T>(s, x.data<T>(), index.data<int32_t>(), y.data<T>());
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::gather_forward(s, x.data<float>(), index.data<int32_t>(), y.data<float>()));
        break;
    }
  }
  autograd::record(y, "gather", {x}, [s, x_shape = x.shape(), idx = index](const Tensor& g) {
    return std::vector<Tensor>{backward(s, x_shape, idx, g)};
  });
  return y;
}

}  // namespace lra::ops
