// CPU reference for softmax and log_softmax over the last dim: three plain passes per row (max, sum of
// exponentials, write). Row sums accumulate in double whatever T is, so the float32 reference that
// the CUDA kernels are compared against is as accurate as it can be.
#include <cmath>
#include <limits>

#include "ops/softmax/softmax.h"

namespace lra::ops::cpu {

template <class T>
void softmax_forward(const T* x, T* y, const int32_t* mask, int64_t rows, int64_t L, int64_t rows_per_mask, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * L;
    T* yr = y + r * L;
    const int32_t* mr = mask ? mask + (r / rows_per_mask) * L : nullptr;
    auto included = [&](int64_t j) { return mr == nullptr || mr[j] != 0; };

    T m = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < L; ++j)
      if (included(j)) m = std::max(m, xr[j]);
    if (m == -std::numeric_limits<T>::infinity()) {  // fully masked (or all -inf): zeros, not NaN
      for (int64_t j = 0; j < L; ++j) yr[j] = T(0);
      continue;
    }
    double s = 0;
    for (int64_t j = 0; j < L; ++j)
      if (included(j)) s += std::exp(double(xr[j] - m));
    for (int64_t j = 0; j < L; ++j) {
      if (!included(j))
        yr[j] = T(0);
      else if (log)
        yr[j] = T(double(xr[j] - m) - std::log(s));
      else
        yr[j] = T(std::exp(double(xr[j] - m)) / s);
    }
  }
}

template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, const int32_t* mask, int64_t rows, int64_t L,
                      int64_t rows_per_mask, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * L;
    const T* gr = gy + r * L;
    T* dr = gx + r * L;
    const int32_t* mr = mask ? mask + (r / rows_per_mask) * L : nullptr;
    auto included = [&](int64_t j) { return mr == nullptr || mr[j] != 0; };
    if (log) {
      // dx = g - exp(y) * sum(g), over included positions; excluded ones are constants.
      double sum_g = 0;
      for (int64_t j = 0; j < L; ++j)
        if (included(j)) sum_g += double(gr[j]);
      for (int64_t j = 0; j < L; ++j) dr[j] = included(j) ? T(double(gr[j]) - std::exp(double(yr[j])) * sum_g) : T(0);
    } else {
      // dx = y * (g - sum(g * y)); y is 0 at excluded positions, so they drop out on their own.
      double dot = 0;
      for (int64_t j = 0; j < L; ++j) dot += double(gr[j]) * double(yr[j]);
      for (int64_t j = 0; j < L; ++j) dr[j] = T(double(yr[j]) * (double(gr[j]) - dot));
    }
  }
}

#define LRA_INSTANTIATE(T)                                                                                     \
  template void softmax_forward<T>(const T*, T*, const int32_t*, int64_t, int64_t, int64_t, bool);            \
  template void softmax_backward<T>(const T*, const T*, T*, const int32_t*, int64_t, int64_t, int64_t, bool);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
