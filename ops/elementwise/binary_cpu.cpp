// CPU reference for the broadcasting binary ops: one loop over the output, each operand read through
// its broadcast strides (or a flat loop when all three shapes agree).
#include "ops/elementwise/binary.h"

namespace lra::ops::cpu {

namespace {

template <class T>
T apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return T(0);
}

// d(a op b)/da * g and d(a op b)/db * g.
template <class T>
void partials(BinaryOp op, T a, T b, T g, T& ga, T& gb) {
  switch (op) {
    case BinaryOp::Add: ga = g; gb = g; return;
    case BinaryOp::Sub: ga = g; gb = -g; return;
    case BinaryOp::Mul: ga = g * b; gb = g * a; return;
    case BinaryOp::Div: ga = g / b; gb = -g * a / (b * b); return;
  }
}

}  // namespace

template <class T>
void binary_forward(BinaryOp op, const T* a, const T* b, T* y, const BroadcastGeometry& g) {
  for_each_broadcast(g, [&](int64_t k, int64_t ia, int64_t ib) { y[k] = apply(op, a[ia], b[ib]); });
}

template <class T>
void binary_backward(BinaryOp op, const T* a, const T* b, const T* gy, T* ga, T* gb, const BroadcastGeometry& g) {
  for_each_broadcast(g, [&](int64_t k, int64_t ia, int64_t ib) {
    T da = T(0), db = T(0);
    partials(op, a ? a[ia] : T(0), b ? b[ib] : T(0), gy[k], da, db);
    if (ga) ga[k] = da;
    if (gb) gb[k] = db;
  });
}

template <class T>
void sum_middle(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    T* yo = y + o * inner;
    for (int64_t i = 0; i < inner; ++i) yo[i] = T(0);
    for (int64_t j = 0; j < n; ++j) {
      const T* xr = x + (o * n + j) * inner;
      for (int64_t i = 0; i < inner; ++i) yo[i] += xr[i];
    }
  }
}

#define LRA_INSTANTIATE(T)                                                                                  \
  template void binary_forward<T>(BinaryOp, const T*, const T*, T*, const BroadcastGeometry&);             \
  template void binary_backward<T>(BinaryOp, const T*, const T*, const T*, T*, T*, const BroadcastGeometry&); \
  template void sum_middle<T>(const T*, T*, int64_t, int64_t, int64_t);
LRA_INSTANTIATE(float)
LRA_INSTANTIATE(double)
#undef LRA_INSTANTIATE

}  // namespace lra::ops::cpu
