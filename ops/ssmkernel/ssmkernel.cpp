// Glue for the S4D kernel: shape checks, allocation, device dispatch and the autograd record.
#include "ops/ssmkernel/ssmkernel.h"

#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

namespace {

template <class T> const T* data_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <class T> T* data_or_null(Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

void forward_into(const SSMKernelShape& s, const Tensor& p, const Tensor& ar, const Tensor& ai, const Tensor& B,
                  const Tensor& C, Tensor& K) {
  switch (p.device()) {
    case Device::CPU:
      dispatch_float(p, "ssm_kernel", [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::ssm_kernel_forward_fast(s, p.data<T>(), ar.data<T>(), ai.data<T>(), data_or_null<T>(B), C.data<T>(),
                                       K.data<T>());
        else
          cpu::ssm_kernel_forward<T>(s, p.data<T>(), ar.data<T>(), ai.data<T>(), data_or_null<T>(B), C.data<T>(),
                                     K.data<T>());
      });
      break;
    case Device::CUDA: {
      LRA_ON_CUDA({
        Tensor scratch = Tensor::empty({cuda::ssm_kernel_forward_scratch(s)}, DType::F32, Device::CUDA);
        cuda::ssm_kernel_forward(s, p.data<float>(), ar.data<float>(), ai.data<float>(), data_or_null<float>(B),
                                 C.data<float>(), K.data<float>(), scratch.data<float>());
      });
      break;
    }
  }
}

}  // namespace

Tensor ssm_kernel(const Tensor& dt_param, const Tensor& log_A_real, const Tensor& A_imag, const Tensor& B,
                  const Tensor& C, int64_t L, const SSMKernelOptions& options) {
  check_float(dt_param, "ssm_kernel", "dt_param");
  check_float(log_A_real, "ssm_kernel", "log_A_real");
  check_float(A_imag, "ssm_kernel", "A_imag");
  check_float(C, "ssm_kernel", "C");
  check_same(dt_param, log_A_real, "ssm_kernel", "log_A_real");
  check_same(dt_param, A_imag, "ssm_kernel", "A_imag");
  check_same(dt_param, C, "ssm_kernel", "C");
  LRA_CHECK(dt_param.ndim() == 1, "ssm_kernel: the dt parameter (log_dt or inv_dt) must be [H], got ",
            dt_param.describe());
  const int64_t H = dt_param.dim(0);
  LRA_CHECK(log_A_real.ndim() == 2 && log_A_real.dim(0) == H, "ssm_kernel: log_A_real must be [H, N] with H = ", H,
            " (from the dt parameter), got ", log_A_real.describe());
  const int64_t N = log_A_real.dim(1);
  LRA_CHECK(A_imag.shape() == log_A_real.shape(), "ssm_kernel: A_imag has shape ", A_imag.describe(),
            " but log_A_real is ", log_A_real.describe());
  LRA_CHECK(C.ndim() == 3 && C.dim(0) == H && C.dim(1) == N && C.dim(2) == 2, "ssm_kernel: C must be [H, N, 2] = [",
            H, ", ", N, ", 2] (complex as (re, im) pairs), got ", C.describe());
  const bool has_B = B.defined();
  if (has_B) {
    check_float(B, "ssm_kernel", "B");
    check_same(dt_param, B, "ssm_kernel", "B");
    LRA_CHECK(B.shape() == C.shape(), "ssm_kernel: B must be [H, N, 2] like C, got ", B.describe());
  }
  LRA_CHECK(L >= 0, "ssm_kernel: kernel length L must be >= 0, got ", L);
  const SSMKernelShape s{H, N, L, options};
  std::vector<Tensor> inputs{dt_param, log_A_real, A_imag, C};
  if (has_B) inputs.push_back(B);
  // Empty extents, the same on both devices: with H, N or L of 0 the kernel is a sum over no modes or
  // has no entries, so K = 0 [H, L], and no gradient reaches any parameter (all zeros). The kernels
  // below are never launched for them.
  if (H * N * L == 0) {
    Tensor K = Tensor::zeros({H, L}, dt_param.dtype(), dt_param.device());
    const DType dtype = dt_param.dtype();
    const Device device = dt_param.device();
    autograd::record(K, "ssm_kernel", inputs, [=](const Tensor&) {
      std::vector<Tensor> g{Tensor::zeros({H}, dtype, device), Tensor::zeros({H, N}, dtype, device),
                            Tensor::zeros({H, N}, dtype, device), Tensor::zeros({H, N, 2}, dtype, device)};
      if (has_B) g.push_back(Tensor::zeros({H, N, 2}, dtype, device));
      return g;
    });
    return K;
  }
  Tensor K = Tensor::empty({H, L}, dt_param.dtype(), dt_param.device());
  forward_into(s, dt_param, log_A_real, A_imag, B, C, K);
  autograd::record(K, "ssm_kernel", inputs,
                   [s, p = dt_param.detach(), ar = log_A_real.detach(), ai = A_imag.detach(),
                    b = has_B ? B.detach() : Tensor(), c = C.detach()](const Tensor& gK) {
                     Tensor g_p = Tensor::empty(p.shape(), p.dtype(), p.device());
                     Tensor g_ar = Tensor::empty(ar.shape(), ar.dtype(), ar.device());
                     Tensor g_ai = Tensor::empty(ai.shape(), ai.dtype(), ai.device());
                     Tensor g_c = Tensor::empty(c.shape(), c.dtype(), c.device());
                     Tensor g_b = b.defined() ? Tensor::empty(b.shape(), b.dtype(), b.device()) : Tensor();
                     switch (p.device()) {
                       case Device::CPU:
                         dispatch_float(p, "ssm_kernel", [&](auto t) {
                           using T = decltype(t);
                           if constexpr (std::is_same_v<T, float>)
                             cpu::ssm_kernel_backward_fast(s, p.data<T>(), ar.data<T>(), ai.data<T>(),
                                                           data_or_null<T>(b), c.data<T>(), gK.data<T>(),
                                                           g_p.data<T>(), g_ar.data<T>(), g_ai.data<T>(),
                                                           data_or_null<T>(g_b), g_c.data<T>());
                           else
                             cpu::ssm_kernel_backward<T>(s, p.data<T>(), ar.data<T>(), ai.data<T>(),
                                                         data_or_null<T>(b), c.data<T>(), gK.data<T>(),
                                                         g_p.data<T>(), g_ar.data<T>(), g_ai.data<T>(),
                                                         data_or_null<T>(g_b), g_c.data<T>());
                         });
                         break;
                       case Device::CUDA: {
                         LRA_ON_CUDA({
                           Tensor scratch =
                               Tensor::empty({cuda::ssm_kernel_backward_scratch(s)}, DType::F32, Device::CUDA);
                           cuda::ssm_kernel_backward(s, p.data<float>(), ar.data<float>(), ai.data<float>(),
                                                     data_or_null<float>(b), c.data<float>(), gK.data<float>(),
                                                     g_p.data<float>(), g_ar.data<float>(), g_ai.data<float>(),
                                                     data_or_null<float>(g_b), g_c.data<float>(),
                                                     scratch.data<float>());
                         });
                         break;
                       }
                     }
                     std::vector<Tensor> g{g_p, g_ar, g_ai, g_c};
                     if (b.defined()) g.push_back(g_b);
                     return g;
                   });
  return K;
}

}  // namespace lra::ops
