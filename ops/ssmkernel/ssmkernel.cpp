// Glue for the S4D kernel: shape checks, allocation, device dispatch and the autograd record.
#include "ops/ssmkernel/ssmkernel.h"

#include "ops/common.h"

namespace lra::ops {

namespace {

void forward_into(const SSMKernelShape& s, const Tensor& log_dt, const Tensor& ar, const Tensor& ai, const Tensor& C,
                  Tensor& K) {
  switch (log_dt.device()) {
    case Device::CPU:
      dispatch_float(log_dt, "ssm_kernel", [&](auto t) {
        using T = decltype(t);
        cpu::ssm_kernel_forward<T>(s, log_dt.data<T>(), ar.data<T>(), ai.data<T>(), C.data<T>(), K.data<T>());
      });
      break;
    case Device::CUDA: {
      LRA_ON_CUDA({
        Tensor scratch = Tensor::empty({cuda::ssm_kernel_forward_scratch(s)}, DType::F32, Device::CUDA);
        cuda::ssm_kernel_forward(s, log_dt.data<float>(), ar.data<float>(), ai.data<float>(), C.data<float>(),
                                 K.data<float>(), scratch.data<float>());
      });
      break;
    }
  }
}

}  // namespace

Tensor ssm_kernel(const Tensor& log_dt, const Tensor& log_A_real, const Tensor& A_imag, const Tensor& C, int64_t L) {
  check_float(log_dt, "ssm_kernel", "log_dt");
  check_float(log_A_real, "ssm_kernel", "log_A_real");
  check_float(A_imag, "ssm_kernel", "A_imag");
  check_float(C, "ssm_kernel", "C");
  check_same(log_dt, log_A_real, "ssm_kernel", "log_A_real");
  check_same(log_dt, A_imag, "ssm_kernel", "A_imag");
  check_same(log_dt, C, "ssm_kernel", "C");
  LRA_CHECK(log_dt.ndim() == 1, "ssm_kernel: log_dt must be [H], got ", log_dt.describe());
  const int64_t H = log_dt.dim(0);
  LRA_CHECK(log_A_real.ndim() == 2 && log_A_real.dim(0) == H, "ssm_kernel: log_A_real must be [H, N] with H = ", H,
            " (from log_dt), got ", log_A_real.describe());
  const int64_t N = log_A_real.dim(1);
  LRA_CHECK(A_imag.shape() == log_A_real.shape(), "ssm_kernel: A_imag has shape ", A_imag.describe(),
            " but log_A_real is ", log_A_real.describe());
  LRA_CHECK(C.ndim() == 3 && C.dim(0) == H && C.dim(1) == N && C.dim(2) == 2, "ssm_kernel: C must be [H, N, 2] = [",
            H, ", ", N, ", 2] (complex as (re, im) pairs), got ", C.describe());
  LRA_CHECK(L >= 0, "ssm_kernel: kernel length L must be >= 0, got ", L);
  const SSMKernelShape s{H, N, L};
  // Empty extents, the same on both devices: with H, N or L of 0 the kernel is a sum over no modes or
  // has no entries, so K = 0 [H, L], and no gradient reaches any parameter (all zeros). The kernels
  // below are never launched for them.
  if (H * N * L == 0) {
    Tensor K = Tensor::zeros({H, L}, log_dt.dtype(), log_dt.device());
    const DType dtype = log_dt.dtype();
    const Device device = log_dt.device();
    autograd::record(K, "ssm_kernel", {log_dt, log_A_real, A_imag, C}, [=](const Tensor&) {
      return std::vector<Tensor>{Tensor::zeros({H}, dtype, device), Tensor::zeros({H, N}, dtype, device),
                                 Tensor::zeros({H, N}, dtype, device), Tensor::zeros({H, N, 2}, dtype, device)};
    });
    return K;
  }
  Tensor K = Tensor::empty({H, L}, log_dt.dtype(), log_dt.device());
  forward_into(s, log_dt, log_A_real, A_imag, C, K);
  autograd::record(K, "ssm_kernel", {log_dt, log_A_real, A_imag, C},
                   [s, dt = log_dt.detach(), ar = log_A_real.detach(), ai = A_imag.detach(),
                    c = C.detach()](const Tensor& gK) {
                     Tensor g_dt = Tensor::empty(dt.shape(), dt.dtype(), dt.device());
                     Tensor g_ar = Tensor::empty(ar.shape(), ar.dtype(), ar.device());
                     Tensor g_ai = Tensor::empty(ai.shape(), ai.dtype(), ai.device());
                     Tensor g_c = Tensor::empty(c.shape(), c.dtype(), c.device());
                     switch (dt.device()) {
                       case Device::CPU:
                         dispatch_float(dt, "ssm_kernel", [&](auto t) {
                           using T = decltype(t);
                           cpu::ssm_kernel_backward<T>(s, dt.data<T>(), ar.data<T>(), ai.data<T>(), c.data<T>(),
                                                       gK.data<T>(), g_dt.data<T>(), g_ar.data<T>(), g_ai.data<T>(),
                                                       g_c.data<T>());
                         });
                         break;
                       case Device::CUDA: {
                         LRA_ON_CUDA({
                           Tensor scratch =
                               Tensor::empty({cuda::ssm_kernel_backward_scratch(s)}, DType::F32, Device::CUDA);
                           cuda::ssm_kernel_backward(s, dt.data<float>(), ar.data<float>(),
                                                               ai.data<float>(), c.data<float>(), gK.data<float>(),
                                                               g_dt.data<float>(), g_ar.data<float>(),
                                                               g_ai.data<float>(), g_c.data<float>(),
                                                               scratch.data<float>());
                         });
                         break;
                       }
                     }
                     return std::vector<Tensor>{g_dt, g_ar, g_ai, g_c};
                   });
  return K;
}

}  // namespace lra::ops
