// Glue for dropout: checks, the identity shortcut, counter reservation, device dispatch, autograd
// record (the backward regenerates the mask from the captured seed and base).
#include "ops/dropout/dropout.h"

#include "ops/common.h"

namespace lra::ops {

namespace {

struct Layout {
  int64_t outer, tied, inner;
};

void apply(const Tensor& x, Tensor& y, const Layout& l, double p, uint64_t seed, uint64_t base, int64_t first) {
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "dropout", [&](auto t) {
        using T = decltype(t);
        cpu::dropout_apply<T>(x.data<T>(), y.data<T>(), l.outer, l.tied, l.inner, p, seed, base, first);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(
          cuda::dropout_apply(x.data<float>(), y.data<float>(), l.outer, l.tied, l.inner, p, seed, base, first));
      break;
  }
}

}  // namespace

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training, int tied_dim) {
  check_float(x, "dropout", "x");
  LRA_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got p = ", p);
  Layout l{1, 1, x.numel()};
  bool batch_shared = false;  // tied along dim 0: one mask for the whole batch
  if (tied_dim != kNoTie) {
    LRA_CHECK(tied_dim >= -x.ndim() && tied_dim < x.ndim(), "dropout: tied_dim ", tied_dim,
              " is out of range for x ", x.describe());
    int d = x.shape().wrap(tied_dim);
    l = Layout{x.shape().prod(0, d), x.dim(d), x.shape().prod(d + 1, x.ndim())};
    batch_shared = d == 0;
  }
  if (!training || p == 0.0) return x;
  const BatchWindow& w = gen.window();
  LRA_CHECK(batch_shared || !w.active() || (l.outer * l.inner) % w.local_rows == 0, "dropout: x ", x.describe(),
            " is not batch-led under the generator's batch window of ", w.local_rows, " local rows (its ",
            l.outer * l.inner, " mask values do not split into ", w.local_rows, " rows)");
  const uint64_t seed = gen.seed();
  const RowDraw draw = batch_shared ? RowDraw{gen.reserve(uniform_counters(l.outer * l.inner)), 0}
                                    : gen.reserve_uniform_rows(l.outer * l.inner, "dropout");
  const uint64_t base = draw.base;
  const int64_t first = draw.first;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  apply(x, y, l, p, seed, base, first);
  autograd::record(y, "dropout", {x}, [=](const Tensor& gy) {
    Tensor gx = Tensor::empty(gy.shape(), gy.dtype(), gy.device());
    apply(gy, gx, l, p, seed, base, first);
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace lra::ops
