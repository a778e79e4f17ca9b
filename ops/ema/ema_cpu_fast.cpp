// The float32 CPU path of MEGA's EMA kernel, beside the reference (ema_cpu.cpp): the same sums (ema.h)
//   K[d, l] = Σ_n c[d,n]·q[d,n]^l                                   forward,  K [D, L]
//   S0 = Σ_l G[l]·q^l,  S1 = Σ_{l≥1} G[l]·l·q^(l−1)                  backward, per mode (d, n)
// with three changes that the profile asked for (bench_train --profile, mega at L 1024: ema_kernel's
// backward was 50% of the step's backward, all of it in the reference's 2·D·N·L exponentials):
//   - powers by multiplication, in double: the taps go in blocks of kLanes = 16 (two AVX-512 vectors of
//     doubles); a block's powers are the previous block's times q^16, and every kAnchor = 64 taps the
//     powers are evaluated again from exp(l0·log q)·q^j (q^j, j < 16, tabled per mode), so the rounding of
//     the product chain spans at most 4 double-precision steps (a relative 1e-15, far below float32);
//     one exp per 64 taps replaces 64 (forward) or 128 (backward);
//   - S1 with the same powers as S0: S1 = Σ_m H[m]·q^m with H[m] = G[m+1]·(m+1) (H[L−1] = 0), H built
//     once per row and shared by the row's N modes, so the backward is two dot products per mode;
//   - rows d over OpenMP threads; each thread writes only its own rows of K and its own (d, n)
//     gradients, and every sum runs in a fixed order, so the result does not depend on the thread count.
// Taps where q^l < e^−690 (≈1e−300) are skipped: their terms are below any float32 result and their
// powers would be subnormal doubles (slow). Modes and the per-mode chain rule are the header's ema_mode /
// ema_mode_backward in double. Per-thread scratch: one row of L (forward) or 2 rows (backward) doubles.
// Vectorisation: the 16-lane blocks are written with GCC vector extensions (V8, eight doubles), because
// -fopt-info-vec showed the plain 16-lane loops left scalar; objdump of the -march=native object shows
// the block loops as zmm vmulpd / vfmadd231pd (4 FMAs and 2 multiplies per backward block).
//
// Version log (mega, L 1024, batch 2, width 64, depth 2: D = 128 rows, N = 16; the machine is shared):
//   v0 reference (ema_cpu.cpp, float): ema_kernel backward 102 ms of a 395 ms step (the lead's profile,
//      bench_train --profile, OMP_NUM_THREADS=2).
//   v1 this file (a loop over the raw entry points, D 128, N 16, L 1024, 1 thread, best of 3 at load 9):
//      forward 113 -> 3.9 ms, backward 220 -> 1.0 ms; in the step (2 threads, loaded machine) the
//      ema_kernel backward row 171-203 -> 38-49 ms (L 1024), 987 -> 88 ms (L 2048). docs/kernels.md.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/ema/ema.h"

namespace lra::ops::cpu {

namespace {

constexpr int64_t kLanes = 16;   // taps per block (two AVX-512 vectors of doubles)
constexpr int64_t kAnchor = 64;  // taps between direct evaluations of the power
constexpr double kSmallestLog = -690.0;

int64_t round_up(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// The taps worth visiting: l < L with l·log q >= −690 (all of them when q rounds to 1), rounded up to
// whole blocks (never past the padded row).
int64_t live_taps(double log_q, int64_t L) {
  int64_t n = L;
  if (log_q < 0) {
    const double lim = kSmallestLog / log_q + 1;
    if (lim < double(L)) n = int64_t(lim);
  }
  return std::min(round_up(n), round_up(L));
}

// Eight doubles (one AVX-512 register; two AVX2 ones without it): GCC's vector extension, because the
// auto-vectoriser left these 16-lane loops scalar (a loop-carried product and a fully unrolled body).
// V8u is the same with 8-byte alignment, to read and write the rows in place (GCC's vector types alias
// their element type). No function takes or returns one, so the portable build has no ABI question.
typedef double V8 __attribute__((vector_size(64)));
typedef double V8u __attribute__((vector_size(64), aligned(8)));
#define LRA_V8(p) (*reinterpret_cast<V8u*>(p))
#define LRA_CV8(p) (*reinterpret_cast<const V8u*>(p))

// The powers of one mode, two registers (kLanes taps) at a time: each anchor block of kAnchor taps starts
// from q^a0 · q^j (q^a0 evaluated directly, q^j tabled) and multiplies by q^kLanes after each kLanes taps.
struct Powers {
  V8 lo, hi;  // q^j, j = 0..7 and 8..15
  double step;
  explicit Powers(double log_q) {
    for (int j = 0; j < 8; ++j) {
      lo[j] = ema_power(log_q, j);
      hi[j] = ema_power(log_q, j + 8);
    }
    step = ema_power(log_q, kLanes);
  }
};

EMAMode<double> mode_of(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                        const float* gamma, int64_t dn) {
  return ema_mode<double>(delta[dn], alpha[dn], beta[dn], gamma[dn], s.N);
}

}  // namespace

void ema_kernel_forward_fast(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                             const float* gamma, float* K) {
#pragma omp parallel
  {
    std::vector<double> acc(static_cast<size_t>(round_up(s.L)));
#pragma omp for schedule(static)
    for (int64_t d = 0; d < s.D; ++d) {
      std::fill(acc.begin(), acc.end(), 0.0);
      double* a = acc.data();
      for (int64_t n = 0; n < s.N; ++n) {
        const EMAMode<double> m = mode_of(s, delta, alpha, beta, gamma, d * s.N + n);
        const double c = m.c;
        const Powers P(m.log_q);
        const int64_t taps = live_taps(m.log_q, s.L);
        for (int64_t a0 = 0; a0 < taps; a0 += kAnchor) {
          const double anchor = ema_power(m.log_q, a0);
          V8 lo = anchor * P.lo, hi = anchor * P.hi;
          const int64_t end = std::min(a0 + kAnchor, taps);
          for (int64_t l0 = a0; l0 < end; l0 += kLanes) {
            LRA_V8(a + l0) += c * lo;
            LRA_V8(a + l0 + 8) += c * hi;
            lo *= P.step;
            hi *= P.step;
          }
        }
      }
      for (int64_t l = 0; l < s.L; ++l) K[d * s.L + l] = float(a[l]);
    }
  }
}

void ema_kernel_backward_fast(const EMAKernelShape& s, const float* delta, const float* alpha, const float* beta,
                              const float* gamma, const float* gK, float* g_delta, float* g_alpha, float* g_beta,
                              float* g_gamma) {
#pragma omp parallel
  {
    const size_t Lp = static_cast<size_t>(round_up(s.L));
    std::vector<double> G(Lp, 0.0), H(Lp, 0.0);  // G[m] and H[m] = G[m+1]·(m+1), zero past the row
#pragma omp for schedule(static)
    for (int64_t d = 0; d < s.D; ++d) {
      const float* g = gK + d * s.L;
      for (int64_t m = 0; m < s.L; ++m) {
        G[size_t(m)] = g[m];
        H[size_t(m)] = m + 1 < s.L ? double(g[m + 1]) * double(m + 1) : 0.0;
      }
      const double *Gd = G.data(), *Hd = H.data();
      for (int64_t n = 0; n < s.N; ++n) {
        const int64_t dn = d * s.N + n;
        const EMAMode<double> m = mode_of(s, delta, alpha, beta, gamma, dn);
        V8 s0lo = {}, s0hi = {}, s1lo = {}, s1hi = {};
        const Powers P(m.log_q);
        const int64_t taps = live_taps(m.log_q, s.L);
        for (int64_t a0 = 0; a0 < taps; a0 += kAnchor) {
          const double anchor = ema_power(m.log_q, a0);
          V8 lo = anchor * P.lo, hi = anchor * P.hi;
          const int64_t end = std::min(a0 + kAnchor, taps);
          for (int64_t l0 = a0; l0 < end; l0 += kLanes) {
            s0lo += LRA_CV8(Gd + l0) * lo;
            s0hi += LRA_CV8(Gd + l0 + 8) * hi;
            s1lo += LRA_CV8(Hd + l0) * lo;
            s1hi += LRA_CV8(Hd + l0 + 8) * hi;
            lo *= P.step;
            hi *= P.step;
          }
        }
        double S0 = 0, S1 = 0;  // the 16 lanes summed in a fixed order
        for (int j = 0; j < 8; ++j) {
          S0 += s0lo[j] + s0hi[j];
          S1 += s1lo[j] + s1hi[j];
        }
        const EMAModeGrad<double> gm = ema_mode_backward<double>(m, beta[dn], gamma[dn], S0, S1);
        g_delta[dn] = float(gm.g_delta);
        g_alpha[dn] = float(gm.g_alpha);
        g_beta[dn] = float(gm.g_beta);
        g_gamma[dn] = float(gm.g_gamma);
      }
    }
  }
}

#undef LRA_V8
#undef LRA_CV8

}  // namespace lra::ops::cpu
