// The float32 CPU path of sum / mean over one dim (sum_all and mean_all are the case outer = inner = 1)
// and masked_mean, forward and backward, beside the reference (reduce_cpu.cpp, the specification: one
// thread, one float accumulator per output walking j with a stride of inner floats).
//
//   x, gx [outer, n, inner]; y, gy [outer, inner]; masked_mean: x [B, L, D], mask [B, L], y [B, D].
//
// sum_forward_fast: the j axis is cut into fixed chunks of cj rows (cj depends on inner only: 4096
// elements for inner = 1, else max(16, 8192 / inner) rows, so a chunk is ~32 KiB of x). A job (o, chunk)
// sums its rows in float32, vectorised over i (inner > 1: acc[i] += x[j, i]) or over j (inner = 1: a
// simd reduction); when n fits one chunk it writes y directly, otherwise it writes a partial row and a
// second loop over (o, i) adds the partials chunk by chunk, in order, in double. The cut and the order
// depend on the shape only, and every job owns its outputs, so the result is the same for any thread
// count (and more accurate than the reference's single float running sum for long n).
// sum_backward_fast, masked_mean_backward_fast: a broadcast, rows over threads, vector stores.
// masked_mean_forward_fast: batches over threads, each a float32 running sum over the included rows,
// vectorised over D (the reference's order of additions).
// -fopt-info-vec reports every i / j / d loop below vectorised.
//
// Version log (2 threads, this shared 2-core host, medians of interleaved runs):
//   v1  chunked sums, broadcasts over threads. mean over L of [2, 1024, 64] fwd+bwd, one thread
//       (bench_rowops_cpu, loaded host): reference 0.18 ms, fast 0.047 ms (3.9x); see docs/kernels.md.
#include <algorithm>
#include <vector>

#include "ops/reduce/reduce.h"

namespace lra::ops::cpu {

namespace {

// Below this many elements a call stays on one thread (a fork/join costs a few us).
constexpr int64_t kParallel = 1 << 14;

int64_t chunk_rows(int64_t inner) { return inner == 1 ? 4096 : std::max<int64_t>(16, 8192 / inner); }

// Sum of rows [j0, j1) of x_o ([n, inner]) into out[inner] (float32, j ascending).
inline void sum_rows(const float* xo, float* out, int64_t j0, int64_t j1, int64_t inner) {
  if (inner == 1) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = j0; j < j1; ++j) s += xo[j];
    out[0] = s;
    return;
  }
#pragma omp simd
  for (int64_t i = 0; i < inner; ++i) out[i] = 0.0f;
  for (int64_t j = j0; j < j1; ++j) {
    const float* xr = xo + j * inner;
#pragma omp simd
    for (int64_t i = 0; i < inner; ++i) out[i] += xr[i];
  }
}

}  // namespace

void sum_forward_fast(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, float scale) {
  if (outer * inner == 0) return;
  const int64_t cj = chunk_rows(inner), chunks = std::max<int64_t>(1, (n + cj - 1) / cj);
  const bool par = outer * n * inner >= kParallel;
  if (chunks == 1) {
#pragma omp parallel for schedule(static) if (par)
    for (int64_t o = 0; o < outer; ++o) {
      float* yo = y + o * inner;
      sum_rows(x + o * n * inner, yo, 0, n, inner);
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) yo[i] *= scale;
    }
    return;
  }
  std::vector<float> part(size_t(outer * chunks * inner));
#pragma omp parallel if (par)
  {
#pragma omp for schedule(static)
    for (int64_t job = 0; job < outer * chunks; ++job) {
      const int64_t o = job / chunks, c = job % chunks;
      sum_rows(x + o * n * inner, part.data() + job * inner, c * cj, std::min(n, (c + 1) * cj), inner);
    }
#pragma omp for schedule(static)
    for (int64_t oi = 0; oi < outer * inner; ++oi) {
      const int64_t o = oi / inner, i = oi % inner;
      const float* p = part.data() + o * chunks * inner + i;
      double s = 0.0;
      for (int64_t c = 0; c < chunks; ++c) s += double(p[c * inner]);
      y[oi] = float(s) * scale;
    }
  }
}

void sum_backward_fast(const float* gy, float* gx, int64_t outer, int64_t n, int64_t inner, float scale) {
  const bool par = outer * n * inner >= kParallel;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (par)
    for (int64_t o = 0; o < outer; ++o) {
      const float v = gy[o] * scale;
      float* go = gx + o * n;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) go[j] = v;
    }
    return;
  }
#pragma omp parallel for schedule(static) if (par)
  for (int64_t r = 0; r < outer * n; ++r) {
    const float* g = gy + (r / n) * inner;
    float* gr = gx + r * inner;
#pragma omp simd
    for (int64_t i = 0; i < inner; ++i) gr[i] = g[i] * scale;
  }
}

void masked_mean_forward_fast(const float* x, const int32_t* mask, float* y, float* inv_count, int64_t B, int64_t L,
                              int64_t D) {
#pragma omp parallel for schedule(static) if (B * L * D >= kParallel)
  for (int64_t b = 0; b < B; ++b) {
    const int32_t* mb = mask + b * L;
    int64_t count = 0;
    for (int64_t l = 0; l < L; ++l) count += mb[l] != 0;
    const float inv = count ? 1.0f / float(count) : 0.0f;
    inv_count[b] = inv;
    float* yb = y + b * D;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) yb[d] = 0.0f;
    for (int64_t l = 0; l < L; ++l) {
      if (!mb[l]) continue;
      const float* xr = x + (b * L + l) * D;
#pragma omp simd
      for (int64_t d = 0; d < D; ++d) yb[d] += xr[d];
    }
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) yb[d] *= inv;
  }
}

void masked_mean_backward_fast(const float* gy, const int32_t* mask, const float* inv_count, float* gx, int64_t B,
                               int64_t L, int64_t D) {
#pragma omp parallel for schedule(static) if (B * L * D >= kParallel)
  for (int64_t r = 0; r < B * L; ++r) {
    const int64_t b = r / L;
    const float* g = gy + b * D;
    const float inv = inv_count[b];
    const bool keep = mask[r] != 0;  // an excluded row gets exactly 0, even where gy is inf or NaN
    float* gr = gx + r * D;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) gr[d] = keep ? g[d] * inv : 0.0f;
  }
}

}  // namespace lra::ops::cpu
