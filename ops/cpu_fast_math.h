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

}  // namespace lra::ops::cpu
