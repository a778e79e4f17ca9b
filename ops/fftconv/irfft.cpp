// Glue for the inverse real DFT: shape checks, allocation, device dispatch and the autograd record.
// The CPU takes the O(n log n) path; the direct sum is the tests' oracle (cpu::irfft_direct_*).
#include "ops/fftconv/irfft.h"

#include "ops/common.h"

namespace lra::ops {

Tensor irfft(const Tensor& X, int64_t n, int64_t L) {
  check_float(X, "irfft", "X");
  LRA_CHECK(n >= 1, "irfft: the DFT length n must be >= 1, got ", n);
  LRA_CHECK(L >= 1 && L <= n, "irfft: the output length L must be in [1, n] = [1, ", n, "], got ", L);
  LRA_CHECK(X.ndim() >= 2 && X.dim(-1) == 2 && X.dim(-2) == n / 2 + 1, "irfft: X must be [..., n/2 + 1, 2] = [..., ",
            n / 2 + 1, ", 2] for n = ", n, " (complex as (re, im) pairs), got ", X.describe());
  std::vector<int64_t> out_dims = X.shape().vec();
  out_dims.resize(out_dims.size() - 2);
  out_dims.push_back(L);
  const Shape out_shape(out_dims);
  const IrfftShape s{X.shape().prod(0, X.ndim() - 2), n, L};
  Tensor x = Tensor::empty(out_shape, X.dtype(), X.device());
  if (s.rows > 0) {
    switch (X.device()) {
      case Device::CPU:
        dispatch_float(X, "irfft", [&](auto t) {
          using T = decltype(t);
          cpu::irfft_forward<T>(s, X.data<T>(), x.data<T>());
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA({
          Tensor scratch = Tensor::empty({cuda::irfft_forward_scratch(s)}, DType::F32, Device::CUDA);
          cuda::irfft_forward(s, X.data<float>(), x.data<float>(), scratch.data<float>());
        });
        break;
    }
  }
  autograd::record(x, "irfft", {X}, [s, shape = X.shape(), dtype = X.dtype(), device = X.device()](const Tensor& g) {
    Tensor gX = Tensor::zeros(shape, dtype, device);
    if (s.rows == 0) return std::vector<Tensor>{gX};
    switch (device) {
      case Device::CPU:
        dispatch_float(gX, "irfft", [&](auto t) {
          using T = decltype(t);
          cpu::irfft_backward<T>(s, g.data<T>(), gX.data<T>());
        });
        break;
      case Device::CUDA:
        LRA_ON_CUDA({
          Tensor scratch = Tensor::empty({cuda::irfft_backward_scratch(s)}, DType::F32, Device::CUDA);
          cuda::irfft_backward(s, g.data<float>(), gX.data<float>(), scratch.data<float>());
        });
        break;
    }
    return std::vector<Tensor>{gX};
  });
  return x;
}

}  // namespace lra::ops
