// The float32 CPU path of layer_norm and rms_norm that training runs, beside the reference
// (norm_cpu.cpp, the specification: one thread, every statistic in double). Same formulas (norm.h) on
// float32 data, with the rows over OpenMP threads and the loops over D vectorised (-march=native: this file is
// a *_cpu_fast.cpp; -fopt-info-vec reports every j loop below vectorised, the reductions included).
//
//   x, y, gy, dx [rows, D]; w, b, dw, db [D] (any may be nullptr); mean, rstd [rows] (saved for backward).
//
// Forward: one row per iteration, three passes over the row while it is in L1 (sum, sum of squared
// deviations, write); mean and rstd are stored for the backward.
// Backward: the rows are cut into fixed chunks of kChunk rows (the cut depends on rows only, never on the
// thread count). A chunk computes dx for its rows and adds gy·xhat and gy into its own partial dw/db rows
// (float32, kChunk terms); a second parallel loop over columns sums the partials chunk by chunk in order,
// in double. Each thread writes only its own chunks' dx rows and partials and then its own columns, so the
// result is bit-identical for any thread count.
// Arithmetic inside a row is double, as in the reference (vector lanes of 8 doubles; float32 in and out):
// each dx is then within half an ulp or so of the reference's, which matters because the sums downstream
// cancel — Σ_j dx[r, j] = 0, and gMLP's shared conv bias sums dx over half of each row's channels. With
// float32 arithmetic inside the row that bias gradient missed the PyTorch parity bound (tests/parity,
// gmlp: 5.6e-6 against 4.4e-6). The dw/db chunk partials stay float32 (kChunk terms, then double).
//
// Version log (2 threads, this shared 2-core host, medians of interleaved runs):
//   v1  rows over threads, float32 vector loops, chunked dw/db. layer_norm fwd+bwd [2048, 64], one thread
//       (bench_rowops_cpu, loaded host): reference 1.09 ms, fast 0.42 ms (2.6x); failed the gMLP parity
//       check (see above).
//   v2  double arithmetic inside the row (float32 in and out): 0.88 → 0.48 ms (1.8x) at [2048, 64],
//       1.84 → 1.13 ms at [4096, 64], one thread; the threads give the rest. See docs/kernels.md.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/norm/norm.h"

namespace lra::ops::cpu {

namespace {

// Below this many elements a call stays on one thread (a fork/join costs a few us).
constexpr int64_t kParallel = 1 << 14;
// Rows per chunk of the dw/db column sums.
constexpr int64_t kChunk = 32;

template <bool Rms, bool HasW, bool HasB>
void forward_rows(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd, int64_t rows,
                  int64_t D, float eps) {
  const double inv_d = 1.0 / double(D);
#pragma omp parallel for schedule(static) if (rows * D >= kParallel)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    double m = 0.0;
    if constexpr (!Rms) {
#pragma omp simd reduction(+ : m)
      for (int64_t j = 0; j < D; ++j) m += double(xr[j]);
      m *= inv_d;
    }
    double v = 0.0;
#pragma omp simd reduction(+ : v)
    for (int64_t j = 0; j < D; ++j) v += (double(xr[j]) - m) * (double(xr[j]) - m);
    const double s = 1.0 / std::sqrt(v * inv_d + double(eps));
    mean[r] = float(m);
    rstd[r] = float(s);
#pragma omp simd
    for (int64_t j = 0; j < D; ++j) {
      double h = (double(xr[j]) - m) * s;
      if constexpr (HasW) h *= double(w[j]);
      if constexpr (HasB) h += double(b[j]);
      yr[j] = float(h);
    }
  }
}

// dx for rows [r0, r1); adds gy·xhat into pw and gy into pb (each [D], when wanted).
template <bool Rms, bool HasW, bool WantW, bool WantB>
void backward_chunk(const float* x, const float* w, const float* mean, const float* rstd, const float* gy, float* dx,
                    float* pw, float* pb, int64_t r0, int64_t r1, int64_t D) {
  const double inv_d = 1.0 / double(D);
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * D;
    const float* gr = gy + r * D;
    float* dr = dx + r * D;
    // The saved float32 mean and rstd, as the reference reads them.
    const double m = Rms ? 0.0 : double(mean[r]), s = double(rstd[r]);
    double sg = 0.0, sgh = 0.0;
#pragma omp simd reduction(+ : sg, sgh)
    for (int64_t j = 0; j < D; ++j) {
      const double g = HasW ? double(gr[j]) * double(w[j]) : double(gr[j]), h = (double(xr[j]) - m) * s;
      sg += g;
      sgh += g * h;
    }
    const double mean_g = Rms ? 0.0 : sg * inv_d, mean_gh = sgh * inv_d;
#pragma omp simd
    for (int64_t j = 0; j < D; ++j) {
      const double g = HasW ? double(gr[j]) * double(w[j]) : double(gr[j]), h = (double(xr[j]) - m) * s;
      dr[j] = float(s * (g - mean_g - h * mean_gh));
      if constexpr (WantW) pw[j] += gr[j] * float(h);
      if constexpr (WantB) pb[j] += gr[j];
    }
  }
}

template <bool Rms, bool HasW, bool WantW, bool WantB>
void backward_rows(const float* x, const float* w, const float* mean, const float* rstd, const float* gy, float* dx,
                   float* dw, float* db, int64_t rows, int64_t D) {
  const int64_t chunks = (rows + kChunk - 1) / kChunk;
  constexpr bool kCols = WantW || WantB;
  // Partials: chunk c's dw row at c·2D, its db row at c·2D + D.
  std::vector<float> part(kCols ? size_t(chunks * 2 * D) : 0, 0.0f);
  const bool par = rows * D >= kParallel;
#pragma omp parallel if (par)
  {
#pragma omp for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      float* pw = kCols ? part.data() + c * 2 * D : nullptr;
      backward_chunk<Rms, HasW, WantW, WantB>(x, w, mean, rstd, gy, dx, pw, pw ? pw + D : nullptr, c * kChunk,
                                              std::min(rows, (c + 1) * kChunk), D);
    }
    if constexpr (kCols) {
#pragma omp for schedule(static)
      for (int64_t j = 0; j < D; ++j) {
        double aw = 0.0, ab = 0.0;
        for (int64_t c = 0; c < chunks; ++c) {
          aw += double(part[size_t(c * 2 * D + j)]);
          ab += double(part[size_t(c * 2 * D + D + j)]);
        }
        if (WantW) dw[j] = float(aw);
        if (WantB) db[j] = float(ab);
      }
    }
  }
}

}  // namespace

void norm_forward_fast(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t D, float eps, bool rms) {
  if (rows == 0 || D == 0) return;
  auto run = [&]<bool Rms, bool HasW, bool HasB>() { forward_rows<Rms, HasW, HasB>(x, w, b, y, mean, rstd, rows, D, eps); };
  const int key = (rms ? 4 : 0) | (w ? 2 : 0) | (b ? 1 : 0);
  switch (key) {
    case 0: return run.template operator()<false, false, false>();
    case 1: return run.template operator()<false, false, true>();
    case 2: return run.template operator()<false, true, false>();
    case 3: return run.template operator()<false, true, true>();
    case 4: return run.template operator()<true, false, false>();
    case 5: return run.template operator()<true, false, true>();
    case 6: return run.template operator()<true, true, false>();
    default: return run.template operator()<true, true, true>();
  }
}

void norm_backward_fast(const float* x, const float* w, const float* mean, const float* rstd, const float* gy,
                        float* dx, float* dw, float* db, int64_t rows, int64_t D, bool rms) {
  if (D == 0) return;
  if (rows == 0) {  // sums over no rows
    for (int64_t j = 0; j < D; ++j) {
      if (dw) dw[j] = 0.0f;
      if (db) db[j] = 0.0f;
    }
    return;
  }
  auto run = [&]<bool Rms, bool HasW, bool WantW, bool WantB>() {
    backward_rows<Rms, HasW, WantW, WantB>(x, w, mean, rstd, gy, dx, dw, db, rows, D);
  };
  const int key = (rms ? 8 : 0) | (w ? 4 : 0) | (dw ? 2 : 0) | (db ? 1 : 0);
  switch (key) {
    case 0: return run.template operator()<false, false, false, false>();
    case 1: return run.template operator()<false, false, false, true>();
    case 2: return run.template operator()<false, false, true, false>();
    case 3: return run.template operator()<false, false, true, true>();
    case 4: return run.template operator()<false, true, false, false>();
    case 5: return run.template operator()<false, true, false, true>();
    case 6: return run.template operator()<false, true, true, false>();
    case 7: return run.template operator()<false, true, true, true>();
    case 8: return run.template operator()<true, false, false, false>();
    case 9: return run.template operator()<true, false, false, true>();
    case 10: return run.template operator()<true, false, true, false>();
    case 11: return run.template operator()<true, false, true, true>();
    case 12: return run.template operator()<true, true, false, false>();
    case 13: return run.template operator()<true, true, false, true>();
    case 14: return run.template operator()<true, true, true, false>();
    default: return run.template operator()<true, true, true, true>();
  }
}

}  // namespace lra::ops::cpu
