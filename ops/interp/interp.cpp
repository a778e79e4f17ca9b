// Glue for linear upsampling: checks, allocation, device dispatch, autograd record.
#include "ops/interp/interp.h"

#include "ops/common.h"

namespace lra::ops {

namespace {
void forward_into(const InterpShape& s, const Tensor& x, Tensor& y) {
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "upsample_linear", [&](auto t) {
        using T = decltype(t);
        cpu::upsample_linear_forward<T>(s, x.data<T>(), y.data<T>());
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::upsample_linear_forward(s, x.data<float>(), y.data<float>()));
      break;
  }
}
void backward_into(const InterpShape& s, const Tensor& gy, Tensor& gx) {
  switch (gy.device()) {
    case Device::CPU:
      dispatch_float(gy, "upsample_linear backward", [&](auto t) {
        using T = decltype(t);
        cpu::upsample_linear_backward<T>(s, gy.data<T>(), gx.data<T>());
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::upsample_linear_backward(s, gy.data<float>(), gx.data<float>()));
      break;
  }
}
}  // namespace

Tensor upsample_linear(const Tensor& x, int64_t factor) {
  check_float(x, "upsample_linear", "x");
  LRA_CHECK(x.ndim() >= 1, "upsample_linear: x must have at least one dim, got ", x.describe());
  LRA_CHECK(factor >= 1, "upsample_linear: factor must be >= 1 (an integer upsampling), got ", factor);
  InterpShape s;
  s.Lin = x.dim(x.ndim() - 1);
  s.R = x.shape().prod(0, x.ndim() - 1);
  s.factor = factor;
  std::vector<int64_t> out_dims = x.shape().vec();
  out_dims.back() = s.Lout();
  const Shape out_shape(out_dims);
  const Shape in_shape = x.shape();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  if (y.numel() > 0) forward_into(s, x, y);
  autograd::record(y, "upsample_linear", {x}, [s, in_shape](const Tensor& gy) {
    Tensor gx = Tensor::zeros(in_shape, gy.dtype(), gy.device());
    if (gy.numel() > 0) backward_into(s, gy, gx);
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace lra::ops
