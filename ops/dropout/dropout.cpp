// Glue for dropout: checks, the identity shortcut, counter reservation, device dispatch, autograd
// record (the backward regenerates the mask from the captured seed and base).
#include "ops/dropout/dropout.h"

#include "ops/common.h"

namespace lra::ops {

namespace {

struct Layout {
  int64_t outer, tied, inner;
};

void apply(const Tensor& x, Tensor& y, const Layout& l, double p, uint64_t seed, uint64_t base) {
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "dropout", [&](auto t) {
        using T = decltype(t);
        cpu::dropout_apply<T>(x.data<T>(), y.data<T>(), l.outer, l.tied, l.inner, p, seed, base);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::dropout_apply(x.data<float>(), y.data<float>(), l.outer, l.tied, l.inner, p, seed, base));
      break;
  }
}

}  // namespace

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training, int tied_dim) {
  check_float(x, "dropout", "x");
  LRA_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got p = ", p);
  Layout l{1, 1, x.numel()};
  if (tied_dim != kNoTie) {
    LRA_CHECK(tied_dim >= -x.ndim() && tied_dim < x.ndim(), "dropout: tied_dim ", tied_dim,
              " is out of range for x ", x.describe());
    int d = x.shape().wrap(tied_dim);
    l = Layout{x.shape().prod(0, d), x.dim(d), x.shape().prod(d + 1, x.ndim())};
  }
  if (!training || p == 0.0) return x;
  uint64_t seed = gen.seed(), base = gen.reserve(uniform_counters(l.outer * l.inner));
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  apply(x, y, l, p, seed, base);
  autograd::record(y, "dropout", {x}, [=](const Tensor& gy) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    apply(gy, gx, l, p, seed, base);
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace lra::ops
