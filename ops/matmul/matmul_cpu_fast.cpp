// cpu::gemm_fast: the float32 GEMM the CPU ops run, beside the reference (matmul_cpu.cpp), same contract:
//   C_s = alpha · op(A_s) · op(B_s) + beta · C_s   for s < batch, row-major, op(A) [m, k], op(B) [k, n].
// GotoBLAS/BLIS structure, as in Goto & van de Geijn, "Anatomy of high-performance matrix multiplication":
//   for jc over n in kNc columns:
//     for pc over k in kKc steps:          (k order fixed: C gets beta·C + the first block, then += each next)
//       pack op(B)[pc, jc] into kNr-column micro-panels (p-major: 32 consecutive floats per k step)
//       for ic over m in kMc rows:         A block (kMc x kKc, packed)         -> L2 (kMc·kKc·4 = 1 MiB)
//         pack op(A)[ic, pc] into kMr-row micro-panels (p-major: 14 floats per k step)
//         for jr over the B micro-panels:  one B micro-panel (kKc·kNr·4 = 32 KiB) stays in L1 ...
//           for ir over the A micro-panels:   ... while the A micro-panels stream past it
//             micro-kernel: a kMr x kNr tile of C in 28 zmm registers, kKc rank-1 updates (2 loads of B,
//             14 broadcasts of A, 28 FMAs per k step), then C = alpha·acc + beta·C with masked edges.
// The transposes are handled in the packing (both layouts pack into the same micro-panels; the strided
// ones through 16x16 in-register transposes), so the micro-kernel is the same for all four combinations.
// Edges: panels are zero-padded to kMr / kNr, and the store writes only the rows and (masked) columns
// that exist.
// Threads: C is cut into one slab per thread along its longer side (whole micro-panels; a batch of
// small products gives one or more entries per thread instead), and each thread packs its own operands:
// no barriers, so a thread preempted by a neighbour on a shared machine delays only its own slab. Every
// element of C is computed by the same sequence of FMAs whatever thread computes it (one accumulator
// lane, k in order, the same kKc blocks), so the result does not depend on the thread count
// (FastGemm.SameBitsForAnyThreadCount checks it bitwise).
// Saves nothing for backward (the glue records the operands).
// Vectorisation: AVX-512 intrinsics (checked in the assembly: the k loop is 14 vbroadcastss and 28
// vfmadd231ps on zmm registers, no spills). Without AVX-512 (LRA_NATIVE off, or an older CPU) plain
// loops with the same packing take their place.
//
// Why the float32 ops run this and not OpenBLAS (docs/kernels.md, "CPU GEMM", bench_gemm): on one core
// it runs at 0.97-1.02x OpenBLAS 0.3.21's best (AVX-512, OPENBLAS_CORETYPE=Cooperlake) at 512^3 and at
// 0.93-1.13x on the LRA linear-layer shapes, at par on the best 2-thread rounds, 2-5x faster than the
// Prescott kernels Debian's OpenBLAS picks by itself on this Xeon; and its result is independent of the
// thread count.
//
// Version log (this 2-core Xeon, AVX-512, L1 48 KiB, L2 2 MiB per core; bench_gemm, interleaved, medians):
//   v0  the reference (matmul_cpu.cpp, SSE2): 512^3 4-6 GFLOP/s on 2 threads of a loaded machine.
//   v1  shared packing, the team splitting each block's micro-tiles, two barriers per block: 137
//       GFLOP/s on 1 core at 512^3, but 2-thread calls waited on every preempted thread (8-36 ms).
//   v2  one slab of C per thread, private packing, no barriers; vectorised packing (the strided A pack
//       was a third of the 16384-row shapes' time) and a C-tile prefetch. 1 core: 85-110 GFLOP/s at
//       512^3 (OpenBLAS 84-114 in the same rounds), 70-92 on the LRA shapes (OpenBLAS 68-88).
#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12 flags the deliberate "undefined" operand of the AVX-512 unpack intrinsics (__m512 __Y = __Y).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops/matmul/matmul.h"

namespace lra::ops::cpu {

namespace {

constexpr int64_t kMr = 14, kNr = 32;
// kKc · kNr · 4 = 32 KiB: one B micro-panel in the 48 KiB L1 beside the A micro-panel (14 KiB).
// kMc · kKc · 4 = 1 MiB: the packed A block, which each core streams through once per B micro-panel, in L2.
// kNc · kKc · 4 = 3 MiB: the packed B block, read by both cores from L3.
constexpr int64_t kKc = 256, kMc = kMr * 72, kNc = 3072;
// Below this many multiply-adds (~10 us on one core) the product runs on one thread.
constexpr int64_t kParallelWork = int64_t(1) << 19;
// Slabs per thread. Each slab packs all of the other operand (k x n for a slab of rows), about 16
// multiply-adds' worth of time per element, so each extra slab costs 16/m of the product (1/n for column
// slabs): 3% at 512^3, 12% for the 128-row dW of an LRU layer. One slab per thread, then; a thread held
// up by a neighbour on a shared machine holds the call up with it.
constexpr int64_t kChunksPerThread = 1;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

#if defined(__AVX512F__)
// In-register transpose of a 16 x 16 block: lane j of r[i] moves to lane i of r[j]. Three rounds of
// shuffles (32-bit pairs, 64-bit pairs, 128-bit quarters twice), 64 shuffles for 256 floats.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  auto lo = [](__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
  };
  auto hi = [](__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
  };
  for (int i = 0; i < 16; i += 4) {
    r[i] = lo(t[i], t[i + 2]);
    r[i + 1] = hi(t[i], t[i + 2]);
    r[i + 2] = lo(t[i + 1], t[i + 3]);
    r[i + 3] = hi(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}
#endif

// Packs rows [i0, i0 + mc) x cols [p0, p0 + kc) of op(A) into micro-panels: panel q holds rows
// i0 + q·kMr + (0..kMr), stored p-major (kMr floats per k step), rows past i0 + mc zero.
// op(A)[i, p] is a[i·lda + p], or a[p·lda + i] when trans_a (A stored [k, m]).
void pack_a(bool trans_a, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  for (int64_t q = 0; q * kMr < mc; ++q) {
    float* d = dst + q * kMr * kc;
    const int64_t r0 = i0 + q * kMr, rows = std::min(kMr, i0 + mc - r0);
#if defined(__AVX512F__)
    const __mmask16 row_mask = __mmask16((1u << rows) - 1), panel_mask = __mmask16((1u << kMr) - 1);
    if (trans_a) {  // contiguous in i: one masked load and store of kMr floats per k step
      for (int64_t p = 0; p < kc; ++p)
        _mm512_mask_storeu_ps(d + p * kMr, panel_mask, _mm512_maskz_loadu_ps(row_mask, a + (p0 + p) * lda + r0));
    } else {  // contiguous in p: 16 k steps of the kMr rows at a time, transposed in registers
      for (int64_t pb = 0; pb < kc; pb += 16) {
        const int64_t w = std::min<int64_t>(16, kc - pb);
        const __mmask16 p_mask = __mmask16((1u << w) - 1);
        __m512 r[16];
        for (int i = 0; i < 16; ++i)
          r[i] = i < rows ? _mm512_maskz_loadu_ps(p_mask, a + (r0 + i) * lda + p0 + pb) : _mm512_setzero_ps();
        transpose16(r);
        for (int64_t p = 0; p < w; ++p) _mm512_mask_storeu_ps(d + (pb + p) * kMr, panel_mask, r[p]);
      }
    }
#else
    if (trans_a) {  // contiguous in i: copy kMr floats per k step
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = a + (p0 + p) * lda + r0;
        float* dp = d + p * kMr;
        for (int64_t i = 0; i < rows; ++i) dp[i] = src[i];
        for (int64_t i = rows; i < kMr; ++i) dp[i] = 0.0f;
      }
    } else {  // contiguous in p: a transpose of a kMr x kc strip
      for (int64_t i = 0; i < rows; ++i) {
        const float* src = a + (r0 + i) * lda + p0;
        for (int64_t p = 0; p < kc; ++p) d[p * kMr + i] = src[p];
      }
      for (int64_t i = rows; i < kMr; ++i)
        for (int64_t p = 0; p < kc; ++p) d[p * kMr + i] = 0.0f;
    }
#endif
  }
}

// Packs rows [p0, p0 + kc) x cols [j0, j0 + nc) of op(B) into micro-panels of kNr columns, p-major,
// columns past j0 + nc zero. op(B)[p, j] is b[p·ldb + j], or b[j·ldb + p] when trans_b (B stored [n, k]).
void pack_b(bool trans_b, const float* b, int64_t ldb, int64_t j0, int64_t nc, int64_t p0, int64_t kc, float* dst) {
  for (int64_t q = 0; q * kNr < nc; ++q) {
    float* d = dst + q * kNr * kc;
    const int64_t c0 = j0 + q * kNr, cols = std::min(kNr, j0 + nc - c0);
#if defined(__AVX512F__)
    if (!trans_b) {  // contiguous in j: two masked loads and aligned stores of 16 floats per k step
      const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
      const __mmask16 m1 = cols >= 32 ? __mmask16(0xFFFF) : cols > 16 ? __mmask16((1u << (cols - 16)) - 1) : 0;
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + c0;
        _mm512_store_ps(d + p * kNr, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(d + p * kNr + 16, _mm512_maskz_loadu_ps(m1, src + 16));
      }
    } else {  // contiguous in p: 16 k steps of 16 columns at a time, transposed in registers
      for (int64_t half = 0; half < 2; ++half)
        for (int64_t pb = 0; pb < kc; pb += 16) {
          const int64_t w = std::min<int64_t>(16, kc - pb);
          const __mmask16 p_mask = __mmask16((1u << w) - 1);
          __m512 r[16];
          for (int j = 0; j < 16; ++j)
            r[j] = half * 16 + j < cols ? _mm512_maskz_loadu_ps(p_mask, b + (c0 + half * 16 + j) * ldb + p0 + pb)
                                        : _mm512_setzero_ps();
          transpose16(r);
          for (int64_t p = 0; p < w; ++p) _mm512_store_ps(d + (pb + p) * kNr + half * 16, r[p]);
        }
    }
#else
    if (!trans_b) {  // contiguous in j: copy kNr floats per k step
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + c0;
        float* dp = d + p * kNr;
        for (int64_t j = 0; j < cols; ++j) dp[j] = src[j];
        for (int64_t j = cols; j < kNr; ++j) dp[j] = 0.0f;
      }
    } else {  // contiguous in p: a transpose of a kc x kNr strip
      for (int64_t j = 0; j < cols; ++j) {
        const float* src = b + (c0 + j) * ldb + p0;
        for (int64_t p = 0; p < kc; ++p) d[p * kNr + j] = src[p];
      }
      for (int64_t j = cols; j < kNr; ++j)
        for (int64_t p = 0; p < kc; ++p) d[p * kNr + j] = 0.0f;
    }
#endif
  }
}

// C[0..mr, 0..nr) (row stride ldc) = alpha · (packed A panel · packed B panel) + beta · C, over kc steps.
// beta == 0 does not read C.
#if defined(__AVX512F__)
void micro_kernel(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int64_t mr, int64_t nr,
                  float alpha, float beta) {
  __m512 acc[kMr][2];
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    // Fetch the C tile now, so the read-modify-write after the k loop finds it in L1 (the tall LRA
    // shapes have C far larger than the caches, and it is revisited once per k block).
    if (i < mr) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + nr - 1), _MM_HINT_T0);
    }
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
#pragma GCC unroll 14
    for (int i = 0; i < kMr; ++i) {
      const __m512 ai = _mm512_set1_ps(pa[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    pa += kMr;
    pb += kNr;
  }
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? __mmask16(0xFFFF) : nr > 16 ? __mmask16((1u << (nr - 16)) - 1) : __mmask16(0);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
  for (int i = 0; i < kMr; ++i) {
    if (i >= mr) break;
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
    }
    _mm512_mask_storeu_ps(ci, m0, r0);
    _mm512_mask_storeu_ps(ci + 16, m1, r1);
  }
}
#else
void micro_kernel(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int64_t mr, int64_t nr,
                  float alpha, float beta) {
  float acc[kMr][kNr] = {};
  for (int64_t p = 0; p < kc; ++p, pa += kMr, pb += kNr)
    for (int i = 0; i < kMr; ++i)
      for (int j = 0; j < kNr; ++j) acc[i][j] += pa[i] * pb[j];
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j)
      c[i * ldc + j] = alpha * acc[i][j] + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
}
#endif

// One product C = alpha·op(A)·op(B) + beta·C on one thread, with leading dimensions (a sub-block of a
// larger product: lda, ldb, ldc are the row lengths of the stored matrices). pa and pb are this thread's
// packing buffers.
void gemm_block(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, float* pa, float* pb) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // no products: C = beta·C
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  for (int64_t j0 = 0; j0 < n; j0 += kNc) {
    const int64_t nc = std::min(kNc, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += kKc) {
      const int64_t kc = std::min(kKc, k - p0);
      const float beta_block = p0 == 0 ? beta : 1.0f;  // the first k block applies beta, later ones add
      pack_b(trans_b, b, ldb, j0, nc, p0, kc, pb);
      for (int64_t i0 = 0; i0 < m; i0 += kMc) {
        const int64_t mc = std::min(kMc, m - i0);
        pack_a(trans_a, a, lda, i0, mc, p0, kc, pa);
        // jr outer, ir inner: one B micro-panel stays in L1 while the A micro-panels stream past it.
        for (int64_t jr = 0; jr * kNr < nc; ++jr)
          for (int64_t ir = 0; ir * kMr < mc; ++ir) {
            const int64_t row = i0 + ir * kMr, col = j0 + jr * kNr;
            micro_kernel(kc, pa + ir * kMr * kc, pb + jr * kNr * kc, c + row * ldc + col, ldc,
                         std::min(kMr, m - row), std::min(kNr, n - col), alpha, beta_block);
          }
      }
    }
  }
}

// This thread's packing buffer `which` (0: A, 1: B), 64-byte aligned (the micro-kernel loads B with
// aligned loads), at least n floats. Kept per thread across calls (OpenMP's pool threads live on), so a
// training step does not allocate and page-fault fresh megabytes per GEMM; at most 1 MiB (A) and
// 3 MiB (B) per thread.
float* packing_buffer(int which, int64_t n) {
  struct Buffer {
    float* p = nullptr;
    int64_t size = 0;
    ~Buffer() { ::operator delete[](p, std::align_val_t(64)); }
  };
  thread_local Buffer buffers[2];
  Buffer& b = buffers[which];
  if (b.size < n) {
    ::operator delete[](b.p, std::align_val_t(64));
    b.p = static_cast<float*>(::operator new[](size_t(n) * sizeof(float), std::align_val_t(64)));
    b.size = n;
  }
  return b.p;
}

}  // namespace

void gemm_fast(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
               int64_t stride_a, const float* b, int64_t stride_b, float beta, float* c, int64_t stride_c,
               int64_t batch) {
  if (batch <= 0 || m == 0 || n == 0) return;
  // Tasks: each batch entry is cut into `chunks` slabs of C along its longer side (whole micro-panels),
  // and the batch x chunks slabs are shared out dynamically; each thread packs its own operands.
  const int64_t work = m * n * std::max<int64_t>(k, 1);
  int threads = 1;
#ifdef _OPENMP
  if (!omp_in_parallel() && work * batch >= kParallelWork) threads = omp_get_max_threads();
#endif
  const bool split_m = m >= n;
  const int64_t unit = split_m ? kMr : kNr, units = ceil_div(split_m ? m : n, unit);
  const int64_t chunks = threads == 1 ? 1 : std::clamp<int64_t>(ceil_div(kChunksPerThread * threads, batch), 1, units);
  const int64_t tasks = batch * chunks;
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n, ldc = n;
  const int64_t kc = std::clamp<int64_t>(k, 1, kKc);
  const int64_t a_size = ceil_div(std::min(m, kMc), kMr) * kMr * kc, b_size = ceil_div(std::min(n, kNc), kNr) * kNr * kc;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    float* pa = packing_buffer(0, a_size);
    float* pb = packing_buffer(1, b_size);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t s = t / chunks, q = t % chunks;
      const float* as = a + s * stride_a;
      const float* bs = b + s * stride_b;
      float* cs = c + s * stride_c;
      const int64_t u0 = units * q / chunks * unit, u1 = std::min(units * (q + 1) / chunks * unit, split_m ? m : n);
      if (split_m)  // rows [u0, u1) of C
        gemm_block(trans_a, trans_b, u1 - u0, n, k, alpha, trans_a ? as + u0 : as + u0 * lda, lda, bs, ldb, beta,
                   cs + u0 * ldc, ldc, pa, pb);
      else  // columns [u0, u1) of C
        gemm_block(trans_a, trans_b, m, u1 - u0, k, alpha, as, lda, trans_b ? bs + u0 * ldb : bs + u0, ldb, beta,
                   cs + u0, ldc, pa, pb);
    }
  }
}

}  // namespace lra::ops::cpu
