// Glue for softmax and log_softmax: checks, allocation, device dispatch, autograd records.
#include "ops/softmax/softmax.h"

#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

namespace {

// Checks the optional mask against x and returns how many consecutive rows of x share one mask row
// (1 without a mask).
int64_t check_mask(const Tensor& x, const Tensor& mask, const char* op) {
  if (!mask.defined()) return 1;
  LRA_CHECK(mask.dtype() == DType::I32, op, ": mask must be int32, got ", mask.describe());
  LRA_CHECK(mask.device() == x.device(), op, ": mask is on ", device_name(mask.device()), " but x is on ",
            device_name(x.device()));
  LRA_CHECK(x.ndim() >= 2, op, ": a mask [B, L] needs x of rank >= 2 ([B, ..., L]), got x ", x.describe());
  LRA_CHECK(mask.ndim() == 2 && mask.dim(0) == x.dim(0) && mask.dim(1) == x.dim(-1), op, ": mask has shape ",
            mask.shape(), " but x ", x.shape(), " needs [", x.dim(0), ", ", x.dim(-1), "] (B = dim 0, L = last dim)");
  int64_t rows = x.numel() / std::max<int64_t>(x.dim(-1), 1);
  return std::max<int64_t>(rows / std::max<int64_t>(x.dim(0), 1), 1);
}

const int32_t* mask_ptr(const Tensor& mask) { return mask.defined() ? mask.data<int32_t>() : nullptr; }

Tensor softmax_impl(const Tensor& x, const Tensor& mask, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_float(x, name, "x");
  LRA_CHECK(x.ndim() >= 1, name, ": x must have rank >= 1 (softmax runs over the last dim), got ", x.describe());
  int64_t rows_per_mask = check_mask(x, mask, name);
  int64_t L = x.dim(-1), rows = L ? x.numel() / L : 0;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU:
      dispatch_float(x, name, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::softmax_forward_fast(x.data<T>(), y.data<T>(), mask_ptr(mask), rows, L, rows_per_mask, log);
        else
          cpu::softmax_forward<T>(x.data<T>(), y.data<T>(), mask_ptr(mask), rows, L, rows_per_mask, log);
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA(cuda::softmax_forward(x.data<float>(), y.data<float>(), mask_ptr(mask), rows, L, rows_per_mask, log));
      break;
  }
  // The mask is only read by log_softmax's backward; softmax's y is already 0 where it excludes.
  Tensor saved_mask = log && mask.defined() ? mask.detach() : Tensor();
  autograd::record(y, name, {x}, [=, ys = y.detach()](const Tensor& gy) {
    Tensor gx = Tensor::empty(ys.shape(), ys.dtype(), ys.device());
    switch (ys.device()) {
      case Device::CPU:
        dispatch_float(ys, name, [&](auto t) {
          using T = decltype(t);
          if constexpr (std::is_same_v<T, float>)
            cpu::softmax_backward_fast(ys.data<T>(), gy.data<T>(), gx.data<T>(), mask_ptr(saved_mask), rows, L,
                                       rows_per_mask, log);
          else
            cpu::softmax_backward<T>(ys.data<T>(), gy.data<T>(), gx.data<T>(), mask_ptr(saved_mask), rows, L,
                                     rows_per_mask, log);
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA(cuda::softmax_backward(ys.data<float>(), gy.data<float>(), gx.data<float>(),
                                           mask_ptr(saved_mask), rows, L, rows_per_mask, log));
        break;
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, const Tensor& mask) { return softmax_impl(x, mask, false); }
Tensor log_softmax(const Tensor& x, const Tensor& mask) { return softmax_impl(x, mask, true); }

}  // namespace lra::ops
