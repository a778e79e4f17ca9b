// The float32 CPU path of softmax and log_softmax over the last dim (with the optional key-padding mask)
// that training runs, beside the reference (softmax_cpu.cpp, the specification: one thread, glibc exp in
// double, row sums in double). Same formulas and the same mask conventions (softmax.h), in float32:
//
//   x, y, gy, gx [rows, L]; mask [rows / rows_per_mask, L] int32 or nullptr. Saved for backward: y.
//
// Rows go over OpenMP threads (static, each thread writes its own rows, so the result does not depend on
// the thread count); within a row three vector passes while it sits in L1: the max, then e = exp(x − m)
// written into y and summed, then y·(1/s) (softmax) or x − m − log s (log_softmax). exp is
// lra::ops::cpu::fast_exp (cpu_fast_math.h: Cody–Waite range reduction and a degree-6 polynomial,
// ~2 ulp; inputs below −87, −inf included, give exactly 0), which vectorises where glibc's expf call does
// not. An excluded position enters the max as −inf and the sum as 0, and is written 0. The backward is two
// passes: the row dot Σ g·y (softmax) or Σ g over included positions (log_softmax), then the write.
// -fopt-info-vec reports every j loop below vectorised (the max and sum reductions included).
//
// Version log (2 threads, this shared 2-core host, medians of interleaved runs):
//   v1  rows over threads, fast_exp, float32 vector loops. softmax fwd+bwd [8192, 64], one thread
//       (bench_rowops_cpu, loaded host): reference 35.2 ms, fast 2.4 ms (15x); see docs/kernels.md.
#include <cmath>
#include <limits>

#include "ops/cpu_fast_math.h"
#include "ops/softmax/softmax.h"

namespace lra::ops::cpu {

namespace {

// Below this many elements a call stays on one thread (a fork/join costs a few us).
constexpr int64_t kParallel = 1 << 14;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

template <bool Masked, bool Log>
void forward_rows(const float* x, float* y, const int32_t* mask, int64_t rows, int64_t L, int64_t rows_per_mask) {
#pragma omp parallel for schedule(static) if (rows * L >= kParallel)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * L;
    float* yr = y + r * L;
    const int32_t* mr = Masked ? mask + (r / rows_per_mask) * L : nullptr;
    float m = kNegInf;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < L; ++j) m = std::max(m, Masked && mr[j] == 0 ? kNegInf : xr[j]);
    if (m == kNegInf) {  // fully masked (or all −inf): zeros, not NaN
#pragma omp simd
      for (int64_t j = 0; j < L; ++j) yr[j] = 0.0f;
      continue;
    }
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < L; ++j) {
      const float e = Masked && mr[j] == 0 ? 0.0f : fast_exp(xr[j] - m);
      if constexpr (!Log) yr[j] = e;
      s += e;
    }
    if constexpr (Log) {
      // (x − m) − log s, not x − (m + log s): m + log s would round at the magnitude of m (logits ~1000).
      const float ls = std::log(s);
#pragma omp simd
      for (int64_t j = 0; j < L; ++j) yr[j] = Masked && mr[j] == 0 ? 0.0f : (xr[j] - m) - ls;
    } else {
      const float inv = 1.0f / s;
#pragma omp simd
      for (int64_t j = 0; j < L; ++j) yr[j] *= inv;
    }
  }
}

template <bool Masked, bool Log>
void backward_rows(const float* y, const float* gy, float* gx, const int32_t* mask, int64_t rows, int64_t L,
                   int64_t rows_per_mask) {
#pragma omp parallel for schedule(static) if (rows * L >= kParallel)
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * L;
    const float* gr = gy + r * L;
    float* dr = gx + r * L;
    const int32_t* mr = Masked ? mask + (r / rows_per_mask) * L : nullptr;
    if constexpr (Log) {
      // dx = g − exp(y)·Σ g over included positions; excluded ones are constants (dx = 0).
      float sum_g = 0.0f;
#pragma omp simd reduction(+ : sum_g)
      for (int64_t j = 0; j < L; ++j) sum_g += Masked && mr[j] == 0 ? 0.0f : gr[j];
#pragma omp simd
      for (int64_t j = 0; j < L; ++j) dr[j] = Masked && mr[j] == 0 ? 0.0f : gr[j] - fast_exp(yr[j]) * sum_g;
    } else {
      // dx = y·(g − Σ g·y); y is 0 at excluded positions, so they drop out on their own.
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < L; ++j) dot += gr[j] * yr[j];
#pragma omp simd
      for (int64_t j = 0; j < L; ++j) dr[j] = yr[j] * (gr[j] - dot);
    }
  }
}

}  // namespace

void softmax_forward_fast(const float* x, float* y, const int32_t* mask, int64_t rows, int64_t L,
                          int64_t rows_per_mask, bool log) {
  if (mask)
    log ? forward_rows<true, true>(x, y, mask, rows, L, rows_per_mask)
        : forward_rows<true, false>(x, y, mask, rows, L, rows_per_mask);
  else
    log ? forward_rows<false, true>(x, y, mask, rows, L, rows_per_mask)
        : forward_rows<false, false>(x, y, mask, rows, L, rows_per_mask);
}

void softmax_backward_fast(const float* y, const float* gy, float* gx, const int32_t* mask, int64_t rows, int64_t L,
                           int64_t rows_per_mask, bool log) {
  if (mask)
    log ? backward_rows<true, true>(y, gy, gx, mask, rows, L, rows_per_mask)
        : backward_rows<true, false>(y, gy, gx, mask, rows, L, rows_per_mask);
  else
    log ? backward_rows<false, true>(y, gy, gx, mask, rows, L, rows_per_mask)
        : backward_rows<false, false>(y, gy, gx, mask, rows, L, rows_per_mask);
}

}  // namespace lra::ops::cpu
