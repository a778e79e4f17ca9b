// Vectorisable float32 math for the CPU fast paths (ops/<family>/*_cpu_fast.cpp). Include it only from
// those files: they are all compiled with the same flags (-march=native under LRA_NATIVE), so the inline
// definitions agree across translation units.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace lra::ops::cpu {

// exp(x) for float32: x = n·ln2 + r with |r| <= ln2/2 (n rounded to nearest, ties to even) (ln2 split in two
// for an exact n·ln2_hi), e^r by a degree-6 Taylor polynomial (truncation ~1.5e-7 relative), 2^n through the
// exponent bits. Inputs below −87 (including −inf, an excluded key) give exactly 0: e^−87 < 2e−38 is below
// any weight that matters beside the row maximum, whose weight is 1.
inline float fast_exp(float x) {
  const float xc = std::min(std::max(x, -87.0f), 88.0f);
  // Round to nearest by adding and subtracting 1.5·2^23 (|x·log2 e| < 128): std::floor would not vectorise
  // without -fno-trapping-math.
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float two_n = std::bit_cast<float>((int32_t(n) + 127) << 23);
  return x < -87.0f ? 0.0f : p * two_n;
}

// exp(x) over float32's whole range, as the element-wise ops need it (exp(x) + shift, sigmoid's
// 1/(1 + e^-x) at x = -100): fast_exp clamps at 88, so above 80 this takes e^(x-1)·e, which reaches
// +inf where e^x overflows (x > 88.72) instead of saturating at e^88. One more rounding there (< 1 ulp).
inline float fast_exp_full_range(float x) {
  const bool high = x > 80.0f;
  const float e = fast_exp(high ? x - 1.0f : x);
  return high ? e * 2.71828182845904524f : e;
}

// erf(x) for float32, branch-free (both halves are computed and one is selected, so loops vectorise).
// Norbert Juffa's erff (Stack Overflow, "Is there an efficient and accurate approximation of erf"):
//   |x| <= 0.927734375:  erf x = x + x·P(x²)                  (minimax, degree 5 in x²)
//   |x| >  0.927734375:  erf x = sign(x)·(1 − e^(−t + t·Q(t)))  t = |x|, Q of degree 6 in t
// with e^ by fast_exp (|x| is clamped at 4, where erf rounds to 1 in float32). Measured against glibc's
// double erf at every float32 step-1e-5 point of [−6, 6] (ElementwiseCpuFast.FastErfAccuracy): worst
// |err| 7.8e-8 absolute, 1.3 ulp (at x ≈ −0.955, the seam of the two halves).
inline float fast_erf(float x) {
  const float t = std::min(x < 0.0f ? -x : x, 4.0f), s = x * x;
  float r = -1.72853470e-5f * t + 3.83197126e-4f;
  const float u = -3.88396438e-3f * t + 2.42546219e-2f;
  r = r * (t * t) + u;
  r = r * t - 1.06777877e-1f;
  r = r * t - 6.34846687e-1f;
  r = r * t - 1.28717512e-1f;
  r = r * t - t;
  const float tail = 1.0f - fast_exp(r);
  float q = -5.96761703e-4f;
  q = q * s + 4.99119423e-3f;
  q = q * s - 2.67681349e-2f;
  q = q * s + 1.12819925e-1f;
  q = q * s - 3.76125336e-1f;
  q = q * s + 1.28379166e-1f;
  const float head = q * x + x;
  return t > 0.927734375f ? (x < 0.0f ? -tail : tail) : head;  // NaN: t is NaN, head is NaN
}

// log(1 + u) for u in [0, 1] (softplus's log1p(e^−|x|)): with s = u/(2 + u) in [0, 1/3],
// log(1 + u) = 2·atanh(s) = 2s·(1 + s²/3 + s⁴/5 + … + s¹⁴/15); the next term is below (1/9)⁸/17 ≈ 1.4e-9
// relative, and s keeps log1p's relative accuracy for small u (no 1 + u is formed).
inline float fast_log1p_unit(float u) {
  const float s = u / (2.0f + u), s2 = s * s;
  float p = 1.0f / 15.0f;
  p = p * s2 + 1.0f / 13.0f;
  p = p * s2 + 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return 2.0f * s * p;
}

}  // namespace lra::ops::cpu
