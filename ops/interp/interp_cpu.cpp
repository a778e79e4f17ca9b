// CPU reference for linear upsampling: the definition in interp.h, output by output; the backward
// scatters each output's gradient onto its two taps.
#include "ops/interp/interp.h"

namespace lra::ops::cpu {

template <class T>
void upsample_linear_forward(const InterpShape& s, const T* x, T* y) {
  const int64_t Lout = s.Lout();
  const T scale = T(1.0 / double(s.factor));
  for (int64_t r = 0; r < s.R; ++r)
    for (int64_t d = 0; d < Lout; ++d) {
      InterpTaps<T> t = interp_taps<T>(d, s.Lin, scale);
      y[r * Lout + d] = (T(1) - t.lambda) * x[r * s.Lin + t.i0] + t.lambda * x[r * s.Lin + t.i1];
    }
}

template <class T>
void upsample_linear_backward(const InterpShape& s, const T* gy, T* gx) {
  const int64_t Lout = s.Lout();
  const T scale = T(1.0 / double(s.factor));
  for (int64_t i = 0; i < s.R * s.Lin; ++i) gx[i] = T(0);
  for (int64_t r = 0; r < s.R; ++r)
    for (int64_t d = 0; d < Lout; ++d) {
      InterpTaps<T> t = interp_taps<T>(d, s.Lin, scale);
      T g = gy[r * Lout + d];
      gx[r * s.Lin + t.i0] += (T(1) - t.lambda) * g;
      gx[r * s.Lin + t.i1] += t.lambda * g;
    }
}

template void upsample_linear_forward<float>(const InterpShape&, const float*, float*);
template void upsample_linear_forward<double>(const InterpShape&, const double*, double*);
template void upsample_linear_backward<float>(const InterpShape&, const float*, float*);
template void upsample_linear_backward<double>(const InterpShape&, const double*, double*);

}  // namespace lra::ops::cpu
