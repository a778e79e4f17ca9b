// Glue for the diagonal linear recurrence: checks, allocation, device dispatch, autograd record.
#include "ops/scan/scan.h"

#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

namespace {

struct Dims {
  int64_t batch, L, N;
};

// b is [..., L, N] (complex: [..., L, N, 2]) and lambda [N] ([N, 2]).
Dims check_scan(const Tensor& lambda, const Tensor& b, bool complex, const char* op) {
  check_float(b, op, "b");
  check_float(lambda, op, "lambda");
  check_same(b, lambda, op, "lambda");
  int extra = complex ? 1 : 0;  // the trailing (re, im) dim
  const char* layout = complex ? "[..., L, N, 2]" : "[..., L, N]";
  LRA_CHECK(b.ndim() >= 2 + extra, op, ": b must be ", layout, ", got ", b.describe());
  LRA_CHECK(!complex || b.dim(-1) == 2, op, ": b has shape ", b.shape(),
            " but the complex layout [..., L, N, 2] needs a last dim of 2 (re, im)");
  int64_t N = b.dim(-1 - extra), L = b.dim(-2 - extra);
  Shape want = complex ? Shape{N, 2} : Shape{N};
  LRA_CHECK(lambda.shape() == want, op, ": lambda has shape ", lambda.shape(), " but b has shape ", b.shape(),
            ", so lambda must be ", want);
  return {b.shape().prod(0, b.ndim() - 2 - extra), L, N};
}

void run_scan(const Tensor& lambda, const Tensor& b, Tensor& x, Dims d, bool complex, bool reverse, bool conj) {
  switch (b.device()) {
    case Device::CPU:
      dispatch_float(b, "scan", [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::scan_fast(lambda.data<T>(), b.data<T>(), x.data<T>(), d.batch, d.L, d.N, complex, reverse, conj);
        else
          cpu::scan<T>(lambda.data<T>(), b.data<T>(), x.data<T>(), d.batch, d.L, d.N, complex, reverse, conj);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::scan(lambda.data<float>(), b.data<float>(), x.data<float>(), d.batch, d.L, d.N, complex,
                             reverse, conj));
      break;
  }
}

Tensor lambda_grad(const Tensor& x, const Tensor& a, const Shape& lambda_shape, Dims d, bool complex, bool reverse) {
  Tensor g = Tensor::empty(lambda_shape, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, "scan", [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::scan_lambda_grad_fast(x.data<T>(), a.data<T>(), g.data<T>(), d.batch, d.L, d.N, complex, reverse);
        else
          cpu::scan_lambda_grad<T>(x.data<T>(), a.data<T>(), g.data<T>(), d.batch, d.L, d.N, complex, reverse);
      });
      break;
    case Device::CUDA: {
      Shape partial_shape{cuda::scan_grad_parts(d.batch, d.L), lambda_shape.numel()};
      Tensor partial = Tensor::empty(partial_shape, x.dtype(), x.device());
      LRA_ON_CUDA(cuda::scan_lambda_grad(x.data<float>(), a.data<float>(), partial.data<float>(), g.data<float>(),
                                         d.batch, d.L, d.N, complex, reverse));
      break;
    }
  }
  return g;
}

Tensor scan_op(const Tensor& lambda, const Tensor& b, bool reverse, bool complex) {
  const char* op = complex ? "scan_complex" : "scan_real";
  Dims d = check_scan(lambda, b, complex, op);
  Tensor x = Tensor::empty(b.shape(), b.dtype(), b.device());
  run_scan(lambda, b, x, d, complex, reverse, false);
  bool want_lambda = autograd::needs_grad({lambda});
  autograd::record(x, op, {lambda, b},
                   [ls = lambda.detach(), xs = x.detach(), d, complex, reverse, want_lambda](const Tensor& gx) {
                     // a = total gradient of x: the recurrence run the other way with conj(lambda).
                     Tensor a = Tensor::empty(gx.shape(), gx.dtype(), gx.device());
                     run_scan(ls, gx, a, d, complex, !reverse, true);
                     Tensor gl = want_lambda ? lambda_grad(xs, a, ls.shape(), d, complex, reverse) : Tensor();
                     return std::vector<Tensor>{gl, a};
                   });
  return x;
}

}  // namespace

Tensor scan_real(const Tensor& lambda, const Tensor& b, bool reverse) { return scan_op(lambda, b, reverse, false); }
Tensor scan_complex(const Tensor& lambda, const Tensor& b, bool reverse) { return scan_op(lambda, b, reverse, true); }

}  // namespace lra::ops
