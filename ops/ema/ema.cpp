// Glue for MEGA's EMA kernel: shape checks, allocation, device dispatch and the autograd record.
#include "ops/ema/ema.h"

#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

Tensor ema_kernel(const Tensor& delta, const Tensor& alpha, const Tensor& beta, const Tensor& gamma, int64_t L) {
  check_float(delta, "ema_kernel", "delta");
  check_float(alpha, "ema_kernel", "alpha");
  check_float(beta, "ema_kernel", "beta");
  check_float(gamma, "ema_kernel", "gamma");
  check_same(delta, alpha, "ema_kernel", "alpha");
  check_same(delta, beta, "ema_kernel", "beta");
  check_same(delta, gamma, "ema_kernel", "gamma");
  LRA_CHECK(delta.ndim() == 2, "ema_kernel: delta must be [D, N], got ", delta.describe());
  for (const Tensor* t : {&alpha, &beta, &gamma})
    LRA_CHECK(t->shape() == delta.shape(), "ema_kernel: alpha, beta and gamma must have delta's shape ",
              delta.describe(), ", got ", t->describe());
  LRA_CHECK(L >= 0, "ema_kernel: kernel length L must be >= 0, got ", L);
  const int64_t D = delta.dim(0), N = delta.dim(1);
  const EMAKernelShape s{D, N, L};
  const DType dtype = delta.dtype();
  const Device device = delta.device();
  // Empty extents, the same on both devices: K = 0 [D, L] (a sum over no modes, or no entries) and no
  // gradient reaches any parameter. No kernel is launched for them.
  if (D * N * L == 0) {
    Tensor K = Tensor::zeros({D, L}, dtype, device);
    autograd::record(K, "ema_kernel", {delta, alpha, beta, gamma}, [=](const Tensor&) {
      return std::vector<Tensor>{Tensor::zeros({D, N}, dtype, device), Tensor::zeros({D, N}, dtype, device),
                                 Tensor::zeros({D, N}, dtype, device), Tensor::zeros({D, N}, dtype, device)};
    });
    return K;
  }
  Tensor K = Tensor::empty({D, L}, dtype, device);
  switch (device) {
    case Device::CPU:
      dispatch_float(delta, "ema_kernel", [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_same_v<T, float>)
          cpu::ema_kernel_forward_fast(s, delta.data<T>(), alpha.data<T>(), beta.data<T>(), gamma.data<T>(),
                                       K.data<T>());
        else
          cpu::ema_kernel_forward<T>(s, delta.data<T>(), alpha.data<T>(), beta.data<T>(), gamma.data<T>(),
                                     K.data<T>());
      });
      break;
    case Device::CUDA: {
      LRA_ON_CUDA({
        Tensor scratch = Tensor::empty({cuda::ema_kernel_forward_scratch(s)}, DType::F32, Device::CUDA);
        cuda::ema_kernel_forward(s, delta.data<float>(), alpha.data<float>(), beta.data<float>(),
                                 gamma.data<float>(), K.data<float>(), scratch.data<float>());
      });
      break;
    }
  }
  autograd::record(K, "ema_kernel", {delta, alpha, beta, gamma},
                   [s, dl = delta.detach(), al = alpha.detach(), be = beta.detach(),
                    ga = gamma.detach()](const Tensor& gK) {
                     std::vector<Tensor> g;
                     for (int i = 0; i < 4; ++i) g.push_back(Tensor::empty(dl.shape(), dl.dtype(), dl.device()));
                     switch (dl.device()) {
                       case Device::CPU:
                         dispatch_float(dl, "ema_kernel", [&](auto t) {
                           using T = decltype(t);
                           if constexpr (std::is_same_v<T, float>)
                             cpu::ema_kernel_backward_fast(s, dl.data<T>(), al.data<T>(), be.data<T>(),
                                                           ga.data<T>(), gK.data<T>(), g[0].data<T>(),
                                                           g[1].data<T>(), g[2].data<T>(), g[3].data<T>());
                           else
                             cpu::ema_kernel_backward<T>(s, dl.data<T>(), al.data<T>(), be.data<T>(),
                                                         ga.data<T>(), gK.data<T>(), g[0].data<T>(),
                                                         g[1].data<T>(), g[2].data<T>(), g[3].data<T>());
                         });
                         break;
                       case Device::CUDA: {
                         LRA_ON_CUDA({
                           cuda::ema_kernel_backward(s, dl.data<float>(), al.data<float>(), be.data<float>(),
                                                     ga.data<float>(), gK.data<float>(), g[0].data<float>(),
                                                     g[1].data<float>(), g[2].data<float>(), g[3].data<float>());
                         });
                         break;
                       }
                     }
                     return g;
                   });
  return K;
}

}  // namespace lra::ops
