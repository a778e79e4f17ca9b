// CPU reference for layer_norm and rms_norm over the last dim: plain loops per row, statistics in
// double whatever T is (two passes: mean, then the variance of x - mean).
#include <cmath>
#include <vector>

#include "ops/norm/norm.h"

namespace lra::ops::cpu {

template <class T>
void norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows, int64_t D, T eps,
                  bool rms) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    double m = 0;
    if (!rms) {
      for (int64_t j = 0; j < D; ++j) m += double(xr[j]);
      m /= double(D);
    }
    double v = 0;
    for (int64_t j = 0; j < D; ++j) v += (double(xr[j]) - m) * (double(xr[j]) - m);
    v /= double(D);
    double s = 1.0 / std::sqrt(v + double(eps));
    mean[r] = T(m);
    rstd[r] = T(s);
    for (int64_t j = 0; j < D; ++j) {
      double h = (double(xr[j]) - m) * s;
      yr[j] = T(h * (w ? double(w[j]) : 1.0) + (b ? double(b[j]) : 0.0));
    }
  }
}

template <class T>
void norm_backward(const T* x, const T* w, const T* mean, const T* rstd, const T* gy, T* dx, T* dw, T* db,
                   int64_t rows, int64_t D, bool rms) {
  // dw / db accumulate over rows in double, so the float32 reference is as accurate as it can be.
  std::vector<double> acc_w(static_cast<size_t>(D), 0.0), acc_b(static_cast<size_t>(D), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    const T* gr = gy + r * D;
    T* dr = dx + r * D;
    double m = rms ? 0.0 : double(mean[r]), s = double(rstd[r]);
    // Row means of g = gy * w and of g * xhat.
    double mean_g = 0, mean_gh = 0;
    for (int64_t j = 0; j < D; ++j) {
      double g = double(gr[j]) * (w ? double(w[j]) : 1.0), h = (double(xr[j]) - m) * s;
      mean_g += g;
      mean_gh += g * h;
    }
    mean_g /= double(D);
    mean_gh /= double(D);
    if (rms) mean_g = 0;
    for (int64_t j = 0; j < D; ++j) {
      double g = double(gr[j]) * (w ? double(w[j]) : 1.0), h = (double(xr[j]) - m) * s;
      dr[j] = T(s * (g - mean_g - h * mean_gh));
      acc_w[size_t(j)] += double(gr[j]) * h;
      acc_b[size_t(j)] += double(gr[j]);
    }
  }
  for (int64_t j = 0; j < D; ++j) {
    if (dw) dw[j] = T(acc_w[size_t(j)]);
    if (db) db[j] = T(acc_b[size_t(j)]);
  }
}

#define LRA_INSTANTIATE(T)                                                                                         \
  template void norm_forward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, T, bool);            \
  template void norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t, \
                                 bool);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
