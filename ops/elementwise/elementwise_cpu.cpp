// CPU reference for the unary ops and GLU: plain loops over the scalar math in unary_math.h.
#include "ops/elementwise/elementwise.h"

namespace lra::ops::cpu {

template <class T>
void unary_forward(UnaryOp op, const T* x, T* y, int64_t n, T alpha) {
  for (int64_t i = 0; i < n; ++i) y[i] = unary_forward_scalar(op, x[i], alpha);
}

template <class T>
void unary_backward(UnaryOp op, const T* x, const T* y, const T* gy, T* gx, int64_t n, T alpha) {
  for (int64_t i = 0; i < n; ++i) gx[i] = unary_backward_scalar(op, x[i], y[i], gy[i], alpha);
}

template <class T>
void glu_forward(const T* x, T* y, int64_t outer, int64_t d, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < d * inner; ++j) {
      T a = x[(o * 2) * d * inner + j], b = x[(o * 2 + 1) * d * inner + j];
      y[o * d * inner + j] = a * sigmoid_of(b);
    }
}

template <class T>
void glu_backward(const T* x, const T* gy, T* gx, int64_t outer, int64_t d, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < d * inner; ++j) {
      T a = x[(o * 2) * d * inner + j], b = x[(o * 2 + 1) * d * inner + j];
      T s = sigmoid_of(b), g = gy[o * d * inner + j];
      gx[(o * 2) * d * inner + j] = g * s;                       // d/da  a*s(b) = s(b)
      gx[(o * 2 + 1) * d * inner + j] = g * a * s * (T(1) - s);  // d/db  a*s(b) = a s (1-s)
    }
}

#define LRA_INSTANTIATE(T)                                                                         \
  template void unary_forward<T>(UnaryOp, const T*, T*, int64_t, T);                              \
  template void unary_backward<T>(UnaryOp, const T*, const T*, const T*, T*, int64_t, T);         \
  template void glu_forward<T>(const T*, T*, int64_t, int64_t, int64_t);                          \
  template void glu_backward<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
