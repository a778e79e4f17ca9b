// Glue for layer_norm and rms_norm: checks, allocation, device dispatch, autograd records.
#include "ops/norm/norm.h"

#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

namespace {

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* mut_ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

void check_param(const Tensor& x, const Tensor& p, const char* op, const char* arg) {
  if (!p.defined()) return;
  check_float(p, op, arg);
  check_same(x, p, op, arg);
  LRA_CHECK(p.ndim() == 1 && p.dim(0) == x.dim(-1), op, ": ", arg, " has shape ", p.shape(),
            " but the last dim of x is ", x.dim(-1));
}

Tensor norm_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, bool rms) {
  const char* name = rms ? "rms_norm" : "layer_norm";
  check_float(x, name, "x");
  LRA_CHECK(x.ndim() >= 1, name, ": x must have rank >= 1 (the norm runs over the last dim), got ", x.describe());
  check_param(x, weight, name, "weight");
  check_param(x, bias, name, "bias");
  LRA_CHECK(eps >= 0, name, ": eps must be >= 0, got ", eps);
  int64_t D = x.dim(-1), rows = D ? x.numel() / D : 0;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({rows}, x.dtype(), x.device());
  Tensor rstd = Tensor::empty({rows}, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, name, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::norm_forward_fast(x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias), y.data<T>(),
                                 mean.data<T>(), rstd.data<T>(), rows, D, T(eps), rms);
        else
          cpu::norm_forward<T>(x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias), y.data<T>(),
                               mean.data<T>(), rstd.data<T>(), rows, D, T(eps), rms);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::norm_forward(x.data<float>(), ptr_or_null<float>(weight), ptr_or_null<float>(bias),
                                     y.data<float>(), mean.data<float>(), rstd.data<float>(), rows, D, float(eps), rms));
      break;
  }
  Tensor ws = weight.defined() ? weight.detach() : Tensor();
  bool want_w = weight.defined(), want_b = bias.defined();
  autograd::record(y, name, {x, weight, bias},
                   [=, xs = x.detach()](const Tensor& gy) {
                     Tensor dx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
                     Tensor dw = want_w ? Tensor::empty({D}, xs.dtype(), xs.device()) : Tensor();
                     Tensor db = want_b ? Tensor::empty({D}, xs.dtype(), xs.device()) : Tensor();
                     switch (xs.device()) {
                       case Device::CPU:
                         dispatch_float(xs, name, [&](auto t) {
                           using T = decltype(t);
                           if constexpr (std::is_same_v<T, float>)
                             cpu::norm_backward_fast(xs.data<T>(), ptr_or_null<T>(ws), mean.data<T>(),
                                                     rstd.data<T>(), gy.data<T>(), dx.data<T>(),
                                                     mut_ptr_or_null<T>(dw), mut_ptr_or_null<T>(db), rows, D, rms);
                           else
                             cpu::norm_backward<T>(xs.data<T>(), ptr_or_null<T>(ws), mean.data<T>(),
                                                   rstd.data<T>(), gy.data<T>(), dx.data<T>(),
                                                   mut_ptr_or_null<T>(dw), mut_ptr_or_null<T>(db), rows, D, rms);
                         });
                         break;
                       case Device::CUDA: {
                         Tensor scratch;
                         if (want_w || want_b)
                           LRA_ON_CUDA(scratch = Tensor::empty({2 * cuda::norm_chunks(rows) * D}, DType::F32,
                                                               Device::CUDA));
                         LRA_ON_CUDA(cuda::norm_backward(
                             xs.data<float>(), ptr_or_null<float>(ws), mean.data<float>(), rstd.data<float>(),
                             gy.data<float>(), dx.data<float>(), mut_ptr_or_null<float>(dw),
                             mut_ptr_or_null<float>(db), mut_ptr_or_null<float>(scratch), rows, D, rms));
                         break;
                       }
                     }
                     return std::vector<Tensor>{dx, dw, db};
                   });
  return y;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return norm_impl(x, weight, bias, eps, false);
}
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) { return norm_impl(x, weight, Tensor(), eps, true); }

}  // namespace lra::ops
