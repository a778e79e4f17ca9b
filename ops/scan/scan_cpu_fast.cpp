// The float32 CPU path of the diagonal scan, beside the reference (scan_cpu.cpp): the same recurrence and
// the same double-precision state, walked in the order the memory is laid out. The reference runs each
// state n down the sequence (a stride of N floats per step, std::complex arithmetic); here a block of up to
// kBlock consecutive states advances one time step at a time, so every load and store is contiguous and
// the inner loop over the block is plain real arithmetic the compiler vectorises. (batch, block) pairs run
// in parallel for the scan; the lambda gradient parallelises over blocks only, each block summing its own
// states over (batch, t) in the reference's order, so the result does not depend on the thread count.
#include <algorithm>

#include "ops/scan/scan.h"

namespace lra::ops::cpu {

namespace {

constexpr int64_t kBlock = 64;

int64_t blocks_of(int64_t N) { return (N + kBlock - 1) / kBlock; }

}  // namespace

void scan_fast(const float* lambda, const float* b, float* x, int64_t batch, int64_t L, int64_t N, bool complex,
               bool reverse, bool conj_lambda) {
  const int64_t nb = blocks_of(N), w = complex ? 2 : 1;
#pragma omp parallel for schedule(static)
  for (int64_t job = 0; job < batch * nb; ++job) {
    const int64_t bt = job / nb, n0 = (job % nb) * kBlock, n1 = std::min(N, n0 + kBlock), m = n1 - n0;
    double lr[kBlock], li[kBlock], hr[kBlock], hi[kBlock];
    for (int64_t j = 0; j < m; ++j) {
      lr[j] = lambda[(n0 + j) * w];
      li[j] = complex ? (conj_lambda ? -1.0 : 1.0) * double(lambda[(n0 + j) * w + 1]) : 0.0;
      hr[j] = hi[j] = 0.0;
    }
    for (int64_t k = 0; k < L; ++k) {
      const int64_t t = reverse ? L - 1 - k : k;
      const float* bp = b + ((bt * L + t) * N + n0) * w;
      float* xp = x + ((bt * L + t) * N + n0) * w;
      if (complex) {
        for (int64_t j = 0; j < m; ++j) {
          const double r = lr[j] * hr[j] - li[j] * hi[j] + double(bp[2 * j]);
          const double i = lr[j] * hi[j] + li[j] * hr[j] + double(bp[2 * j + 1]);
          hr[j] = r;
          hi[j] = i;
          xp[2 * j] = float(r);
          xp[2 * j + 1] = float(i);
        }
      } else {
        for (int64_t j = 0; j < m; ++j) {
          hr[j] = lr[j] * hr[j] + double(bp[j]);
          xp[j] = float(hr[j]);
        }
      }
    }
  }
}

void scan_lambda_grad_fast(const float* x, const float* a, float* glambda, int64_t batch, int64_t L, int64_t N,
                           bool complex, bool reverse) {
  const int64_t nb = blocks_of(N), w = complex ? 2 : 1;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < nb; ++blk) {
    const int64_t n0 = blk * kBlock, n1 = std::min(N, n0 + kBlock), m = n1 - n0;
    double gr[kBlock] = {}, gi[kBlock] = {};
    for (int64_t bt = 0; bt < batch; ++bt)
      for (int64_t t = 0; t < L; ++t) {
        const int64_t prev = reverse ? t + 1 : t - 1;  // the state lambda multiplies to make x_t
        if (prev < 0 || prev >= L) continue;
        const float* xp = x + ((bt * L + prev) * N + n0) * w;
        const float* ap = a + ((bt * L + t) * N + n0) * w;
        if (complex) {
          for (int64_t j = 0; j < m; ++j) {  // conj(x)·a
            const double xr = xp[2 * j], xi = xp[2 * j + 1], ar = ap[2 * j], ai = ap[2 * j + 1];
            gr[j] += xr * ar + xi * ai;
            gi[j] += xr * ai - xi * ar;
          }
        } else {
          for (int64_t j = 0; j < m; ++j) gr[j] += double(xp[j]) * double(ap[j]);
        }
      }
    for (int64_t j = 0; j < m; ++j) {
      glambda[(n0 + j) * w] = float(gr[j]);
      if (complex) glambda[(n0 + j) * w + 1] = float(gi[j]);
    }
  }
}

}  // namespace lra::ops::cpu
