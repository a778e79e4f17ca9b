// Glue for the DPLR frequency response: shape checks, allocation, device dispatch and the autograd record.
#include "ops/cauchy/cauchy.h"

#include "ops/common.h"

namespace lra::ops {

Tensor dplr_response(const Tensor& dt, const Tensor& log_A_real, const Tensor& A_imag, const Tensor& P,
                     const Tensor& B, const Tensor& C, int64_t n) {
  const char* op = "dplr_response";
  check_float(dt, op, "dt");
  check_float(log_A_real, op, "log_A_real");
  check_float(A_imag, op, "A_imag");
  check_float(P, op, "P");
  check_float(B, op, "B");
  check_float(C, op, "C");
  check_same(dt, log_A_real, op, "log_A_real");
  check_same(dt, A_imag, op, "A_imag");
  check_same(dt, P, op, "P");
  check_same(dt, B, op, "B");
  check_same(dt, C, op, "C");
  LRA_CHECK(dt.ndim() == 1, "dplr_response: dt must be [H], got ", dt.describe());
  const int64_t H = dt.dim(0);
  LRA_CHECK(log_A_real.ndim() == 2, "dplr_response: log_A_real must be [S, M], got ", log_A_real.describe());
  const int64_t S = log_A_real.dim(0), M = log_A_real.dim(1);
  LRA_CHECK(S >= 1 && H % S == 0, "dplr_response: the number of SSM copies S = ", S,
            " (log_A_real's first dim) must be >= 1 and divide H = ", H);
  LRA_CHECK(A_imag.shape() == log_A_real.shape(), "dplr_response: A_imag has shape ", A_imag.describe(),
            " but log_A_real is ", log_A_real.describe());
  for (const Tensor* t : {&P, &B})
    LRA_CHECK(t->ndim() == 3 && t->dim(0) == S && t->dim(1) == M && t->dim(2) == 2, "dplr_response: ",
              t == &P ? "P" : "B", " must be [S, M, 2] = [", S, ", ", M, ", 2] (complex as (re, im) pairs), got ",
              t->describe());
  LRA_CHECK(C.ndim() == 4 && C.dim(1) == H && C.dim(2) == M && C.dim(3) == 2,
            "dplr_response: C must be [Cc, H, M, 2] with H = ", H, ", M = ", M, ", got ", C.describe());
  const int64_t Cc = C.dim(0);
  LRA_CHECK(Cc >= 1 && Cc <= kMaxDPLRChannels, "dplr_response: C has ", Cc, " output channels; 1 to ",
            kMaxDPLRChannels, " are supported");
  LRA_CHECK(n >= 1, "dplr_response: the DFT length n must be >= 1, got ", n);
  const DPLRShape s{Cc, H, S, M, n};
  const DType dtype = dt.dtype();
  const Device device = dt.device();
  Tensor khat = Tensor::zeros({Cc, H, s.nodes(), 2}, dtype, device);
  // Empty extents: with H = 0 or M = 0 the response is empty or a sum over no modes (0), and no gradient
  // reaches any parameter. No kernel is launched for them.
  if (H * M == 0) {
    autograd::record(khat, op, {dt, log_A_real, A_imag, P, B, C}, [=](const Tensor&) {
      return std::vector<Tensor>{Tensor::zeros({H}, dtype, device),       Tensor::zeros({S, M}, dtype, device),
                                 Tensor::zeros({S, M}, dtype, device),    Tensor::zeros({S, M, 2}, dtype, device),
                                 Tensor::zeros({S, M, 2}, dtype, device), Tensor::zeros({Cc, H, M, 2}, dtype, device)};
    });
    return khat;
  }
  switch (device) {
    case Device::CPU:
      dispatch_float(dt, op, [&](auto t) {
        using T = decltype(t);
        cpu::dplr_response_forward<T>(s, dt.data<T>(), log_A_real.data<T>(), A_imag.data<T>(), P.data<T>(),
                                      B.data<T>(), C.data<T>(), khat.data<T>());
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA({
        cuda::dplr_response_forward(s, dt.data<float>(), log_A_real.data<float>(), A_imag.data<float>(),
                                    P.data<float>(), B.data<float>(), C.data<float>(), khat.data<float>());
      });
      break;
  }
  autograd::record(
      khat, op, {dt, log_A_real, A_imag, P, B, C},
      [s, dt_ = dt.detach(), ar = log_A_real.detach(), ai = A_imag.detach(), p = P.detach(), b = B.detach(),
       c = C.detach()](const Tensor& gk) {
        Tensor g_dt = Tensor::empty(dt_.shape(), dt_.dtype(), dt_.device());
        Tensor g_ar = Tensor::empty(ar.shape(), ar.dtype(), ar.device());
        Tensor g_ai = Tensor::empty(ai.shape(), ai.dtype(), ai.device());
        Tensor g_p = Tensor::empty(p.shape(), p.dtype(), p.device());
        Tensor g_b = Tensor::empty(b.shape(), b.dtype(), b.device());
        Tensor g_c = Tensor::empty(c.shape(), c.dtype(), c.device());
        switch (dt_.device()) {
          case Device::CPU:
            dispatch_float(dt_, "dplr_response", [&](auto t) {
              using T = decltype(t);
              cpu::dplr_response_backward<T>(s, dt_.data<T>(), ar.data<T>(), ai.data<T>(), p.data<T>(),
                                             b.data<T>(), c.data<T>(), gk.data<T>(), g_dt.data<T>(),
                                             g_ar.data<T>(), g_ai.data<T>(), g_p.data<T>(), g_b.data<T>(),
                                             g_c.data<T>());
            });
            break;
          case Device::CUDA:
            LRA_ON_CUDA({
              Tensor scratch =
                  Tensor::empty({cuda::dplr_response_backward_scratch(s)}, DType::F32, Device::CUDA);
              cuda::dplr_response_backward(s, dt_.data<float>(), ar.data<float>(), ai.data<float>(),
                                           p.data<float>(), b.data<float>(), c.data<float>(), gk.data<float>(),
                                           g_dt.data<float>(), g_ar.data<float>(), g_ai.data<float>(),
                                           g_p.data<float>(), g_b.data<float>(), g_c.data<float>(),
                                           scratch.data<float>());
            });
            break;
        }
        return std::vector<Tensor>{g_dt, g_ar, g_ai, g_p, g_b, g_c};
      });
  return khat;
}

}  // namespace lra::ops
