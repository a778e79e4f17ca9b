// The float32 CPU path of the unary ops and GLU that training runs, beside the reference loops
// (elementwise_cpu.cpp, the specification in float and double). The same scalar math (unary_math.h), with
// two changes the training profiles asked for (bench_train --profile put gelu at a quarter of gMLP's
// backward on the CPU, silu and glu in MEGA's and S4D's):
//   * the op is a template parameter, so the switch over ops is resolved once per call instead of once per
//     element, and the arithmetic-only ops (relu, scale, guard, the derivatives' polynomials) vectorise
//     (-march=native: this file is a *_cpu_fast.cpp); exp, erf, tanh stay glibc's scalar calls;
//   * the elements are split over OpenMP threads in static chunks (each thread writes its own range, so
//     the result does not depend on the thread count) once a call has enough of them to pay for it.
// Results equal the reference's float32 loops up to the FMA contractions -march=native allows (a few ulp).
//
// Version log (2 threads, this shared 2-core host):
//   v1  op hoisted out of the loop, elements over 2 threads: gelu forward+backward on 2·1024·256 elements
//       (gMLP's, lra-speed --small): see docs/kernels.md.
#include "ops/elementwise/elementwise.h"

namespace lra::ops::cpu {

namespace {

// Below this many elements a call stays on one thread (~20 us of work against a fork/join of a few us).
constexpr int64_t kParallel = 1 << 15;

template <UnaryOp Op>
void forward_loop(const float* x, float* y, int64_t n, float alpha) {
#pragma omp parallel for simd schedule(static) if (n >= kParallel)
  for (int64_t i = 0; i < n; ++i) y[i] = unary_forward_scalar(Op, x[i], alpha);
}

template <UnaryOp Op>
void backward_loop(const float* x, const float* y, const float* gy, float* gx, int64_t n, float alpha) {
#pragma omp parallel for simd schedule(static) if (n >= kParallel)
  for (int64_t i = 0; i < n; ++i) gx[i] = unary_backward_scalar(Op, x[i], y[i], gy[i], alpha);
}

// Calls f.template operator()<Op>() with the op as a compile-time constant.
template <class F>
void with_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::Relu: return f.template operator()<UnaryOp::Relu>();
    case UnaryOp::GeluTanh: return f.template operator()<UnaryOp::GeluTanh>();
    case UnaryOp::GeluErf: return f.template operator()<UnaryOp::GeluErf>();
    case UnaryOp::Silu: return f.template operator()<UnaryOp::Silu>();
    case UnaryOp::Sigmoid: return f.template operator()<UnaryOp::Sigmoid>();
    case UnaryOp::Tanh: return f.template operator()<UnaryOp::Tanh>();
    case UnaryOp::Scale: return f.template operator()<UnaryOp::Scale>();
    case UnaryOp::Rsqrt: return f.template operator()<UnaryOp::Rsqrt>();
    case UnaryOp::Elu: return f.template operator()<UnaryOp::Elu>();
    case UnaryOp::Exp: return f.template operator()<UnaryOp::Exp>();
    case UnaryOp::Guard: return f.template operator()<UnaryOp::Guard>();
    case UnaryOp::Sin: return f.template operator()<UnaryOp::Sin>();
    case UnaryOp::Cos: return f.template operator()<UnaryOp::Cos>();
    case UnaryOp::Softplus: return f.template operator()<UnaryOp::Softplus>();
    case UnaryOp::Laplace: return f.template operator()<UnaryOp::Laplace>();
  }
}

}  // namespace

void unary_forward_fast(UnaryOp op, const float* x, float* y, int64_t n, float alpha) {
  with_op(op, [&]<UnaryOp Op>() { forward_loop<Op>(x, y, n, alpha); });
}

void unary_backward_fast(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n,
                         float alpha) {
  with_op(op, [&]<UnaryOp Op>() { backward_loop<Op>(x, y, gy, gx, n, alpha); });
}

void glu_forward_fast(const float* x, float* y, int64_t outer, int64_t d, int64_t inner) {
  const int64_t m = d * inner;
#pragma omp parallel for schedule(static) if (outer * m >= kParallel)
  for (int64_t o = 0; o < outer; ++o) {
    const float* a = x + (o * 2) * m;
    const float* b = a + m;
    float* yo = y + o * m;
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) yo[j] = a[j] * sigmoid_of(b[j]);
  }
}

void glu_backward_fast(const float* x, const float* gy, float* gx, int64_t outer, int64_t d, int64_t inner) {
  const int64_t m = d * inner;
#pragma omp parallel for schedule(static) if (outer * m >= kParallel)
  for (int64_t o = 0; o < outer; ++o) {
    const float* a = x + (o * 2) * m;
    const float* b = a + m;
    const float* g = gy + o * m;
    float* ga = gx + (o * 2) * m;
    float* gb = ga + m;
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) {
      const float s = sigmoid_of(b[j]);
      ga[j] = g[j] * s;                           // d/da  a·s(b) = s(b)
      gb[j] = g[j] * a[j] * s * (1.0f - s);       // d/db  a·s(b) = a·s·(1 − s)
    }
  }
}

}  // namespace lra::ops::cpu
