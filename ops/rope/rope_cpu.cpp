// CPU reference for the rotary embedding: the specification the CUDA kernels match.
#include <cmath>

#include "ops/rope/rope.h"

namespace lra::ops::cpu {

template <class T>
void rope_table(T* cos_t, T* sin_t, int64_t L, int64_t D, double base, bool disable_half) {
  int64_t half = D / 2;
  for (int64_t i = 0; i < half; ++i) {
    double theta = (disable_half && i % 2 == 0) ? 0.0 : std::pow(base, -2.0 * double(i) / double(D));
    for (int64_t p = 0; p < L; ++p) {
      double a = double(p) * theta;
      cos_t[p * half + i] = T(std::cos(a));
      sin_t[p * half + i] = T(std::sin(a));
    }
  }
}

namespace {
template <class T>
void rotate(const T* x, T* y, int64_t rows, const T* cos_t, const T* sin_t, int64_t L, int64_t D, int sign) {
  int64_t half = D / 2;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t p = 0; p < L; ++p) {
      const T* xr = x + (r * L + p) * D;
      T* yr = y + (r * L + p) * D;
      for (int64_t i = 0; i < half; ++i) {
        T c = cos_t[p * half + i], s = T(sign) * sin_t[p * half + i];
        T x0 = xr[2 * i], x1 = xr[2 * i + 1];  // read both before writing: y may alias x
        yr[2 * i] = x0 * c - x1 * s;
        yr[2 * i + 1] = x0 * s + x1 * c;
      }
    }
}
}  // namespace

template <class T>
void rope_apply(const T* x, T* y, int64_t rows_x, const T* u, T* v, int64_t rows_u, const T* cos_t, const T* sin_t,
                int64_t L, int64_t D, int sign) {
  rotate(x, y, rows_x, cos_t, sin_t, L, D, sign);
  if (rows_u > 0) rotate(u, v, rows_u, cos_t, sin_t, L, D, sign);
}

#define LRA_INSTANTIATE(T)                                                                         \
  template void rope_table<T>(T*, T*, int64_t, int64_t, double, bool);                            \
  template void rope_apply<T>(const T*, T*, int64_t, const T*, T*, int64_t, const T*, const T*, int64_t, int64_t, int);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
