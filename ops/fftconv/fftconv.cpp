// Glue for the long convolution: checks, path choice (direct or FFT), scratch, device dispatch and the
// autograd record.
#include "ops/fftconv/fftconv.h"

#include <algorithm>
#include <type_traits>

#include "ops/common.h"

namespace lra::ops {

namespace {

using Algo = FFTConvOptions::Algo;

FFTConvShape check_args(const Tensor& u, const Tensor& kc, const Tensor& ka, const Tensor& D, AntiCausal anti) {
  check_float(u, "fftconv", "u");
  LRA_CHECK(u.ndim() == 3, "fftconv: u must be [B, H, L], got ", u.describe());
  check_float(kc, "fftconv", "kc");
  check_same(u, kc, "fftconv", "kc");
  LRA_CHECK(kc.ndim() == 2, "fftconv: kc must be [C, Lk], got ", kc.describe());
  FFTConvShape s;
  s.B = u.dim(0);
  s.H = u.dim(1);
  s.L = u.dim(2);
  s.C = kc.dim(0);
  s.Lk = kc.dim(1);
  s.anti = anti;
  LRA_CHECK(s.L >= 1, "fftconv: u ", u.shape().to_string(), " has an empty length dim");
  LRA_CHECK(s.C >= 1 && s.H % s.C == 0, "fftconv: kc has ", s.C, " rows, which must divide H = ", s.H,
            " (u is ", u.shape().to_string(), "; channel h uses row h mod C)");
  LRA_CHECK(s.Lk >= 1 && s.Lk <= s.L, "fftconv: kc ", kc.shape().to_string(), " has ", s.Lk,
            " taps; it needs 1 to L = ", s.L, " (u is ", u.shape().to_string(), ")");
  if (anti == AntiCausal::None) {
    LRA_CHECK(!ka.defined(), "fftconv: ka ", ka.describe(), " was given but the anti-causal mode is None");
  } else {
    LRA_CHECK(ka.defined(), "fftconv: an anti-causal mode was chosen but ka is undefined");
    check_float(ka, "fftconv", "ka");
    check_same(u, ka, "fftconv", "ka");
    LRA_CHECK(ka.shape() == kc.shape(), "fftconv: ka has shape ", ka.shape().to_string(), " but kc has ",
              kc.shape().to_string(), "; both must be [C, Lk]");
  }
  if (D.defined()) {
    check_float(D, "fftconv", "D");
    check_same(u, D, "fftconv", "D");
    LRA_CHECK(D.ndim() == 1 && D.dim(0) == s.H, "fftconv: D has shape ", D.shape().to_string(), " but must be [",
              s.H, "] (H of u ", u.shape().to_string(), ")");
  }
  return s;
}

// The data of an optional tensor (ka, D and their gradients), or nullptr.
template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

bool use_direct(const FFTConvShape& s, Algo algo, Device device) {
  if (algo != Algo::Auto) return algo == Algo::Direct;
  return device == Device::CPU && cpu::prefers_direct(s);
}

Tensor forward(const FFTConvShape& s, const Tensor& u, const Tensor& kc, const Tensor& ka, const Tensor& D,
               bool direct) {
  Tensor y = Tensor::empty(u.shape(), u.dtype(), u.device());
  switch (u.device()) {
    case Device::CPU:
      dispatch_float(u, "fftconv", [&](auto t) {
        using T = decltype(t);
        if (direct)
          cpu::fftconv_direct_forward<T>(s, u.data<T>(), kc.data<T>(), ptr<T>(ka), ptr<T>(D), y.data<T>());
        else if constexpr (std::is_same_v<T, float>)
          cpu::fftconv_fft_forward_fast(s, u.data<T>(), kc.data<T>(), ptr<T>(ka), ptr<T>(D), y.data<T>());
        else
          cpu::fftconv_fft_forward<T>(s, u.data<T>(), kc.data<T>(), ptr<T>(ka), ptr<T>(D), y.data<T>());
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA({
        if (direct) {
          cuda::fftconv_direct_forward(s, u.data<float>(), kc.data<float>(), ptr<float>(ka), ptr<float>(D),
                                       y.data<float>());
        } else {
          Tensor scratch = Tensor::empty({cuda::fftconv_forward_scratch(s)}, DType::F32, Device::CUDA);
          cuda::fftconv_fft_forward(s, u.data<float>(), kc.data<float>(), ptr<float>(ka), ptr<float>(D),
                                    y.data<float>(), scratch.data<float>());
        }
      });
      break;
  }
  return y;
}

// Fresh gradients of u, kc, ka (undefined when anti == None) and D (undefined without D).
std::vector<Tensor> backward(const FFTConvShape& s, const Tensor& u, const Tensor& kc, const Tensor& ka,
                             const Tensor& D, const Tensor& gy, bool direct) {
  Tensor gu = Tensor::empty(u.shape(), u.dtype(), u.device());
  Tensor gkc = Tensor::zeros(kc.shape(), kc.dtype(), kc.device());  // zeros: stays right when B·H == 0
  Tensor gka = ka.defined() ? Tensor::zeros(ka.shape(), ka.dtype(), ka.device()) : Tensor();
  Tensor gD = D.defined() ? Tensor::zeros(D.shape(), D.dtype(), D.device()) : Tensor();
  switch (u.device()) {
    case Device::CPU:
      dispatch_float(u, "fftconv", [&](auto t) {
        using T = decltype(t);
        if (direct)
          cpu::fftconv_direct_backward<T>(s, u.data<T>(), kc.data<T>(), ptr<T>(ka), ptr<T>(D), gy.data<T>(),
                                          gu.data<T>(), gkc.data<T>(), ptr<T>(gka), ptr<T>(gD));
        else if constexpr (std::is_same_v<T, float>)
          cpu::fftconv_fft_backward_fast(s, u.data<T>(), kc.data<T>(), ptr<T>(ka), ptr<T>(D), gy.data<T>(),
                                         gu.data<T>(), gkc.data<T>(), ptr<T>(gka), ptr<T>(gD));
        else
          cpu::fftconv_fft_backward<T>(s, u.data<T>(), kc.data<T>(), ptr<T>(ka), ptr<T>(D), gy.data<T>(),
                                       gu.data<T>(), gkc.data<T>(), ptr<T>(gka), ptr<T>(gD));
      });
      break;
    case Device::CUDA:
      LRA_ON_CUDA({
        if (direct) {
          cuda::fftconv_direct_backward(s, u.data<float>(), kc.data<float>(), ptr<float>(ka), ptr<float>(D),
                                        gy.data<float>(), gu.data<float>(), gkc.data<float>(), ptr<float>(gka),
                                        ptr<float>(gD));
        } else {
          Tensor scratch = Tensor::empty({cuda::fftconv_backward_scratch(s)}, DType::F32, Device::CUDA);
          cuda::fftconv_fft_backward(s, u.data<float>(), kc.data<float>(), ptr<float>(ka), ptr<float>(D),
                                     gy.data<float>(), gu.data<float>(), gkc.data<float>(), ptr<float>(gka),
                                     ptr<float>(gD), scratch.data<float>());
        }
      });
      break;
  }
  return {gu, gkc, gka, gD};
}

}  // namespace

int64_t cuda::fft_size(int64_t L, int64_t Lk) {
  for (int64_t n = std::max<int64_t>(2, L + Lk);; ++n) {
    if (n % 2) continue;
    int64_t m = n;
    for (int64_t p : {2, 3, 5, 7})
      while (m % p == 0) m /= p;
    if (m == 1) return n;
  }
}

Tensor fftconv(const Tensor& u, const Tensor& kc, const Tensor& ka, const Tensor& D, FFTConvOptions opts) {
  const FFTConvShape s = check_args(u, kc, ka, D, opts.anti);
  const bool direct = use_direct(s, opts.algo, u.device());
  Tensor y = forward(s, u, kc, ka, D, direct);
  autograd::record(y, "fftconv", {u, kc, ka, D},
                   [s, direct, us = u.detach(), kcs = kc.detach(), kas = ka.defined() ? ka.detach() : Tensor(),
                    Ds = D.defined() ? D.detach() : Tensor()](const Tensor& gy) {
                     return backward(s, us, kcs, kas, Ds, gy, direct);
                   });
  return y;
}

}  // namespace lra::ops
