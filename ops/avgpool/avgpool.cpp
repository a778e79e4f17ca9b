// Glue for sequence average pooling: checks, allocation, device dispatch, autograd record.
#include "ops/avgpool/avgpool.h"

#include "ops/common.h"

namespace lra::ops {

namespace {
void pool_into(const Tensor& x, Tensor& y, int64_t outer, int64_t L, int64_t inner, int P) {
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "avgpool_seq", [&](auto t) {
        using T = decltype(t);
        cpu::avgpool_seq<T>(x.data<T>(), y.data<T>(), outer, L, inner, P);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::avgpool_seq(x.data<float>(), y.data<float>(), outer, L, inner, P));
      break;
  }
}
}  // namespace

Tensor avgpool_seq(const Tensor& x, int P, int dim) {
  check_float(x, "avgpool_seq", "x");
  LRA_CHECK(x.ndim() >= 1, "avgpool_seq: x must have at least one dim, got ", x.describe());
  LRA_CHECK(dim >= -x.ndim() && dim < x.ndim(), "avgpool_seq: dim ", dim, " is out of range for x of shape ",
            x.shape());
  LRA_CHECK(P >= 1 && P % 2 == 1, "avgpool_seq: window P = ", P,
            " must be odd and >= 1 (a centred window with zero padding keeps the length)");
  int d = x.shape().wrap(dim);
  int64_t outer = x.shape().prod(0, d), L = x.dim(d), inner = x.shape().prod(d + 1, x.ndim());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  pool_into(x, y, outer, L, inner, P);
  autograd::record(y, "avgpool_seq", {x}, [outer, L, inner, P](const Tensor& gy) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    pool_into(gy, gx, outer, L, inner, P);  // the centred box filter is its own adjoint
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace lra::ops
